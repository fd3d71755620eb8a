//! The upstream side of Chat Completions: the core request as a Chat Completions request
//! for an OpenAI-compatible upstream, and its answers and chunks as the core's.

use serde_json::{json, Map};

use super::client::parse_arguments;
use super::wire::{
    stop_reason, CapField, ChatContent, ChatMessage, ChatRequest, ChatTool, ChatToolCall, ChunkIn,
    ContentPart, FilePart, FunctionCall, FunctionDef, ImageUrl, Stop,
};
use crate::core::event::{BlockDelta, BlockKind, Event};
use crate::core::reply::Reply;
use crate::core::request::{
    Block, DocumentSource, Media, Reasoning, Request, ResponseFormat, Role, TextPart, Tool,
    ToolChoice, Turn,
};
use crate::core::stream::EventReader;
use crate::core::text::truncate;
use crate::error::ApiError;

/// What the upstream is sent besides the call itself.
pub struct ChatShape<'a> {
    /// The model name the provider knows.
    pub model: &'a str,
    /// The completion cap the gateway decided, if any.
    pub max_tokens: Option<i64>,
    /// The field the upstream reads the cap from.
    pub cap_field: CapField,
    pub stream: bool,
}

/// The Chat Completions request for a call.
pub fn encode_request(call: &Request, shape: &ChatShape<'_>) -> Result<ChatRequest, ApiError> {
    let mut messages = Vec::new();
    let system = joined(&call.system, "\n");
    if !system.is_empty() {
        messages.push(text_message("system", system));
    }
    for turn in &call.turns {
        match turn.role {
            Role::System => {
                let parts: Vec<TextPart> = turn
                    .blocks
                    .iter()
                    .filter_map(|b| match b {
                        Block::Text(p) => Some(p.clone()),
                        _ => None,
                    })
                    .collect();
                let text = joined(&parts, "\n");
                if !text.is_empty() {
                    messages.push(text_message("system", text));
                }
            }
            Role::User => user_messages(turn, &mut messages)?,
            Role::Assistant => messages.push(assistant_message(turn)?),
        }
    }
    let tools = if call.tools.is_empty() {
        None
    } else {
        Some(
            call.tools
                .iter()
                .map(|t| match t {
                    Tool::Function {
                        name,
                        description,
                        schema,
                    } => Ok(ChatTool {
                        kind: "function".into(),
                        function: FunctionDef {
                            name: name.clone(),
                            description: Some(description.clone().unwrap_or_default()),
                            parameters: Some(
                                schema.clone().unwrap_or_else(|| json!({"type": "object"})),
                            ),
                        },
                    }),
                    Tool::Hosted { kind } => Err(ApiError::invalid_param(
                        "tools",
                        format!(
                            "tool type '{}' is a provider-run (server) tool, which an \
                             OpenAI-compatible provider cannot run; route this model to a \
                             provider that runs it",
                            truncate(kind, 60)
                        ),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?,
        )
    };
    let mut chat = ChatRequest {
        model: shape.model.to_string(),
        messages,
        stop: (!call.sampling.stop.is_empty()).then(|| Stop::Many(call.sampling.stop.clone())),
        temperature: call.sampling.temperature,
        top_p: call.sampling.top_p,
        tools,
        tool_choice: call.tool_choice.as_ref().map(|choice| match choice {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::Required => json!("required"),
            ToolChoice::None => json!("none"),
            ToolChoice::Tool(name) => json!({"type": "function", "function": {"name": name}}),
        }),
        parallel_tool_calls: call.parallel_tool_calls,
        reasoning_effort: match call.reasoning {
            Some(Reasoning::Effort(effort)) => Some(effort.name().to_string()),
            // A token budget has no Chat Completions field.
            _ => None,
        },
        response_format: call.response_format.as_ref().map(|f| match f {
            ResponseFormat::Text => json!({"type": "text"}),
            ResponseFormat::JsonObject => json!({"type": "json_object"}),
            ResponseFormat::JsonSchema {
                name,
                schema,
                strict,
            } => {
                let mut spec = json!({"name": name, "schema": schema});
                if let Some(strict) = strict {
                    spec["strict"] = json!(strict);
                }
                json!({"type": "json_schema", "json_schema": spec})
            }
        }),
        user: call.user.clone(),
        ..ChatRequest::default()
    };
    match shape.cap_field {
        CapField::MaxTokens => chat.max_tokens = shape.max_tokens,
        CapField::MaxCompletionTokens => chat.max_completion_tokens = shape.max_tokens,
    }
    if shape.stream {
        chat.stream = Some(true);
        chat.stream_options = Some(json!({"include_usage": true}));
    }
    Ok(chat)
}

fn joined(parts: &[TextPart], separator: &str) -> String {
    parts
        .iter()
        .map(|p| p.text.as_str())
        .collect::<Vec<_>>()
        .join(separator)
}

fn text_message(role: &str, text: String) -> ChatMessage {
    ChatMessage {
        role: role.to_string(),
        content: Some(ChatContent::Text(text)),
        ..ChatMessage::default()
    }
}

/// A 400 naming a block that an OpenAI-type provider cannot be given.
fn untranslatable(kind: &str) -> ApiError {
    ApiError::invalid_param(
        "messages",
        format!(
            "content block type '{}' cannot be sent to an OpenAI-compatible provider here; \
             route this model to a provider that reads it, or leave the block out",
            truncate(kind, 60)
        ),
    )
}

fn part(kind: &str) -> ContentPart {
    ContentPart {
        kind: kind.to_string(),
        text: None,
        image_url: None,
        file: None,
        extra: Map::new(),
    }
}

fn text_content_part(text: String) -> ContentPart {
    ContentPart {
        text: Some(text),
        ..part("text")
    }
}

/// A user turn: tool results first (as `tool` messages answering the assistant's calls),
/// then one user message with the rest.
fn user_messages(turn: &Turn, messages: &mut Vec<ChatMessage>) -> Result<(), ApiError> {
    let mut parts = Vec::new();
    for block in &turn.blocks {
        match block {
            Block::Text(p) => parts.push(text_content_part(p.text.clone())),
            Block::Image(media) => parts.push(ContentPart {
                image_url: Some(ImageUrl {
                    url: match media {
                        Media::Base64 { media_type, data } => {
                            format!("data:{media_type};base64,{data}")
                        }
                        Media::Url(url) => url.clone(),
                    },
                }),
                ..part("image_url")
            }),
            Block::ToolResult {
                tool_use_id,
                content,
                ..
            } => messages.push(ChatMessage {
                tool_call_id: Some(tool_use_id.clone()),
                ..text_message("tool", content.clone())
            }),
            Block::Document { source, title } => parts.push(document_part(source, title)?),
            // Reasoning is its author's to read back; an OpenAI-type model takes none.
            Block::Thinking { .. } | Block::RedactedThinking { .. } => {}
            Block::ToolUse { .. } => return Err(untranslatable("tool_use")),
        }
    }
    if parts.is_empty() {
        return Ok(());
    }
    let content = if parts.iter().all(|p| p.kind == "text") {
        ChatContent::Text(
            parts
                .iter()
                .filter_map(|p| p.text.as_deref())
                .collect::<Vec<_>>()
                .join("\n"),
        )
    } else {
        ChatContent::Parts(parts)
    };
    messages.push(ChatMessage {
        content: Some(content),
        ..text_message("user", String::new())
    });
    Ok(())
}

/// A document as a content part: text documents as text, base64 ones as a `file` part;
/// URL and uploaded-file sources cannot be fetched for an OpenAI-type provider.
fn document_part(source: &DocumentSource, title: &Option<String>) -> Result<ContentPart, ApiError> {
    let heading = title
        .as_deref()
        .map(|t| format!("{t}\n"))
        .unwrap_or_default();
    match source {
        DocumentSource::Text(text) => Ok(text_content_part(format!("{heading}{text}"))),
        DocumentSource::Base64 { media_type, data } => Ok(ContentPart {
            file: Some(FilePart {
                filename: Some(title.clone().unwrap_or_else(|| "document.pdf".into())),
                file_data: Some(format!("data:{media_type};base64,{data}")),
                file_id: None,
            }),
            ..part("file")
        }),
        other => Err(ApiError::invalid_param(
            "messages",
            format!(
                "a document with a '{}' source cannot be sent to an OpenAI-compatible provider \
                 (send it as base64 or text)",
                other.kind()
            ),
        )),
    }
}

fn assistant_message(turn: &Turn) -> Result<ChatMessage, ApiError> {
    let mut text = String::new();
    let mut calls = Vec::new();
    for block in &turn.blocks {
        match block {
            Block::Text(p) => text.push_str(&p.text),
            Block::ToolUse { id, name, input } => calls.push(ChatToolCall {
                id: id.clone(),
                kind: "function".into(),
                function: FunctionCall {
                    name: name.clone(),
                    arguments: input.to_string(),
                },
            }),
            Block::Thinking { .. } | Block::RedactedThinking { .. } => {}
            Block::Image(_) => return Err(untranslatable("image")),
            Block::Document { .. } => return Err(untranslatable("document")),
            Block::ToolResult { .. } => return Err(untranslatable("tool_result")),
        }
    }
    Ok(ChatMessage {
        role: "assistant".into(),
        content: (!text.is_empty()).then_some(ChatContent::Text(text)),
        tool_calls: (!calls.is_empty()).then_some(calls),
        ..ChatMessage::default()
    })
}

/// A whole Chat Completions answer as the core's.
pub fn decode_reply(body: &[u8]) -> Result<Reply, String> {
    let mut answer: ChunkIn =
        serde_json::from_slice(body).map_err(|e| format!("unreadable chat answer: {e}"))?;
    let mut reply = Reply {
        usage: answer.take_usage(),
        id: answer.id.unwrap_or_default(),
        model: answer.model.unwrap_or_default(),
        ..Reply::default()
    };
    let Some(choice) = answer.choices.into_iter().flatten().next() else {
        return Ok(reply);
    };
    reply.stop = choice.finish_reason.as_deref().map(stop_reason);
    if let Some(message) = choice.message {
        if let Some(thinking) = message.reasoning().filter(|t| !t.is_empty()) {
            reply.blocks.push(Block::Thinking {
                text: thinking.to_string(),
                signature: String::new(),
            });
        }
        let text = message.text_parts();
        if !text.is_empty() {
            reply.blocks.push(Block::Text(TextPart::new(text)));
        }
        for call in message.tool_calls.into_iter().flatten() {
            let function = call.function.unwrap_or_default();
            reply.blocks.push(Block::ToolUse {
                id: call.id.unwrap_or_default(),
                name: function.name.unwrap_or_default(),
                input: parse_arguments(function.arguments.as_deref().unwrap_or("{}")),
            });
        }
    }
    Ok(reply)
}

/// What kind of content block is open in the stream being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    None,
    Thinking,
    Text,
    /// A tool call, by its OpenAI index.
    Tool(u64),
}

/// Reads Chat Completions chunks as core events. OpenAI's chunks have no blocks: a block
/// opens when the kind of delta changes (reasoning, text, each tool call) and closes when
/// the next one opens or the stream ends.
pub struct ChunkReader {
    started: bool,
    open: Open,
    /// Index of the next block.
    next_block: usize,
    done: bool,
}

impl Default for ChunkReader {
    fn default() -> ChunkReader {
        ChunkReader {
            started: false,
            open: Open::None,
            next_block: 0,
            done: false,
        }
    }
}

impl ChunkReader {
    fn close(&mut self, events: &mut Vec<Event>) {
        if self.open != Open::None {
            events.push(Event::BlockStop {
                index: self.next_block - 1,
            });
            self.open = Open::None;
        }
    }

    fn open(&mut self, kind: Open, block: BlockKind, events: &mut Vec<Event>) -> usize {
        self.close(events);
        let index = self.next_block;
        self.next_block += 1;
        self.open = kind;
        events.push(Event::BlockStart { index, block });
        index
    }

    fn delta(&mut self, kind: Open, delta: BlockDelta, events: &mut Vec<Event>) {
        if self.open != kind {
            let block = match kind {
                Open::Thinking => BlockKind::Thinking,
                _ => BlockKind::Text,
            };
            self.open(kind, block, events);
        }
        events.push(Event::BlockDelta {
            index: self.next_block - 1,
            delta,
        });
    }
}

impl EventReader for ChunkReader {
    fn read(&mut self, data: &[u8], events: &mut Vec<Event>) {
        if self.done {
            return;
        }
        if data == b"[DONE]" {
            if self.started {
                self.close(events);
                events.push(Event::Done);
                self.done = true;
            }
            return;
        }
        let Ok(mut chunk) = serde_json::from_slice::<ChunkIn>(data) else {
            return;
        };
        let usage = chunk.take_usage();
        if let Some(error) = chunk.error {
            let message = error["message"].as_str().unwrap_or("upstream error");
            events.push(Event::Error {
                kind: error["type"].as_str().map(str::to_string),
                message: message.to_string(),
            });
            return;
        }
        if !self.started {
            self.started = true;
            events.push(Event::Start {
                id: chunk.id.unwrap_or_default(),
                model: chunk.model.unwrap_or_default(),
            });
        }
        if let Some(usage) = usage {
            events.push(Event::Usage(usage));
        }
        let Some(choice) = chunk.choices.into_iter().flatten().next() else {
            return;
        };
        if let Some(delta) = choice.delta {
            if let Some(thinking) = delta.reasoning().filter(|t| !t.is_empty()) {
                self.delta(
                    Open::Thinking,
                    BlockDelta::Thinking(thinking.to_string()),
                    events,
                );
            }
            let text = delta.text_parts();
            if !text.is_empty() {
                self.delta(Open::Text, BlockDelta::Text(text), events);
            }
            for call in delta.tool_calls.into_iter().flatten() {
                let function = call.function.unwrap_or_default();
                if self.open != Open::Tool(call.index) {
                    let id = call
                        .id
                        .clone()
                        .unwrap_or_else(|| format!("toolu_{}", self.next_block));
                    let name = function.name.clone().unwrap_or_default();
                    self.open(
                        Open::Tool(call.index),
                        BlockKind::ToolUse { id, name },
                        events,
                    );
                }
                if let Some(arguments) = function.arguments.filter(|a| !a.is_empty()) {
                    events.push(Event::BlockDelta {
                        index: self.next_block - 1,
                        delta: BlockDelta::ToolInput(arguments),
                    });
                }
            }
        }
        if let Some(finish) = choice.finish_reason {
            events.push(Event::Finish(stop_reason(&finish)));
        }
    }
}
