//! The upstream side of Anthropic Messages: the core request as a Messages request for an
//! Anthropic upstream, and its answers and events as the core's.

use serde_json::{json, Map, Value};

use super::wire::{
    stop_reason, AnthropicUsage, Block as WireBlock, Delta, Message, MessagesRequest,
    MessagesResponse, StreamEvent, ToolDef,
};
use crate::core::event::{BlockDelta, BlockKind, Event};
use crate::core::reply::{Reply, StopReason};
use crate::core::request::{
    Block, DocumentSource, Media, Reasoning, Request, ResponseFormat, Role, TextPart, Tool,
    ToolChoice,
};
use crate::core::stream::EventReader;
use crate::core::text::truncate;
use crate::error::ApiError;

/// Smallest thinking budget Anthropic accepts.
pub const MIN_THINKING_BUDGET: i64 = 1024;

/// The tool a structured-output request (`response_format` / `text.format` with a JSON
/// schema or JSON object) is forced through: Claude has no response format, so it is
/// asked to call this tool, and the call's input comes back as the answer's text.
pub const FORMAT_TOOL: &str = "gateway_structured_output";

/// The forced tool for a response format that asks for JSON, if it does.
fn format_tool(format: Option<&ResponseFormat>) -> Option<ToolDef> {
    let (description, schema) = match format? {
        ResponseFormat::Text => return None,
        ResponseFormat::JsonObject => (
            "Answer by calling this tool with the whole answer as a JSON object.".to_string(),
            json!({"type": "object"}),
        ),
        ResponseFormat::JsonSchema { name, schema, .. } => (
            format!(
                "Answer by calling this tool: its input is the answer, a '{name}' JSON object."
            ),
            schema.clone(),
        ),
    };
    Some(ToolDef {
        name: FORMAT_TOOL.into(),
        kind: None,
        description: Some(description),
        input_schema: Some(schema),
        extra: Map::new(),
    })
}

/// The Messages request for a call. `max_tokens` is what the gateway decided (Anthropic
/// requires one).
pub fn encode_request(
    call: &Request,
    model: &str,
    max_tokens: i64,
    stream: bool,
) -> Result<MessagesRequest, ApiError> {
    let mut system: Vec<Value> = call.system.iter().map(text_block).collect();
    let mut messages: Vec<Message> = Vec::new();
    for turn in &call.turns {
        let role = match turn.role {
            // Anthropic takes instructions only before the conversation.
            Role::System => {
                system.extend(turn.blocks.iter().filter_map(|b| match b {
                    Block::Text(part) => Some(text_block(part)),
                    _ => None,
                }));
                continue;
            }
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        let blocks: Vec<Value> = turn.blocks.iter().filter_map(block).collect();
        push(&mut messages, role, blocks);
    }
    if messages.is_empty() {
        return Err(ApiError::invalid_param(
            "messages",
            "at least one user or assistant message is required",
        ));
    }
    let mut thinking = None;
    let budget = match call.reasoning {
        Some(Reasoning::Effort(effort)) => Some(effort.budget()),
        Some(Reasoning::Budget(budget)) => Some(budget),
        None => None,
    };
    if let Some(budget) = budget {
        // Anthropic needs the thinking budget below max_tokens (and at least 1024).
        let budget = budget.min(max_tokens - 1);
        if budget >= MIN_THINKING_BUDGET {
            thinking = Some(json!({"type": "enabled", "budget_tokens": budget}));
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
                    } => Ok(ToolDef {
                        name: name.clone(),
                        kind: None,
                        description: description.clone(),
                        input_schema: Some(
                            schema
                                .clone()
                                .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
                        ),
                        extra: Map::new(),
                    }),
                    Tool::Hosted { kind } => Err(ApiError::invalid_param(
                        "tools",
                        format!(
                            "tool type '{}' cannot be sent to an Anthropic provider",
                            truncate(kind, 60)
                        ),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?,
        )
    };
    let format = format_tool(call.response_format.as_ref());
    let forced = format.is_some();
    let tools = match (tools, format) {
        (tools, None) => tools,
        (Some(mut tools), Some(format)) => {
            tools.push(format);
            Some(tools)
        }
        (None, Some(format)) => Some(vec![format]),
    };
    // Anthropic refuses a forced tool with thinking on: the format wins.
    if forced {
        thinking = None;
    }
    let mut tool_choice = call.tool_choice.as_ref().map(|choice| match choice {
        ToolChoice::Auto => json!({"type": "auto"}),
        ToolChoice::None => json!({"type": "none"}),
        ToolChoice::Required => json!({"type": "any"}),
        ToolChoice::Tool(name) => json!({"type": "tool", "name": name}),
    });
    if forced {
        tool_choice = Some(json!({"type": "tool", "name": FORMAT_TOOL}));
    }
    if call.parallel_tool_calls == Some(false) && tools.is_some() {
        let choice = tool_choice.get_or_insert_with(|| json!({"type": "auto"}));
        if choice["type"] != "none" {
            choice["disable_parallel_tool_use"] = json!(true);
        }
    }
    // With thinking on, Anthropic accepts no sampling changes.
    let sampling = thinking.is_none();
    Ok(MessagesRequest {
        model: model.to_string(),
        max_tokens,
        messages,
        system: (!system.is_empty()).then_some(Value::Array(system)),
        stop_sequences: (!call.sampling.stop.is_empty()).then(|| call.sampling.stop.clone()),
        // OpenAI allows 0..=2, Anthropic 0..=1.
        temperature: call
            .sampling
            .temperature
            .filter(|_| sampling)
            .map(|t| t.clamp(0.0, 1.0)),
        top_p: call.sampling.top_p.filter(|_| sampling),
        stream: stream.then_some(true),
        tools,
        tool_choice,
        thinking,
        metadata: call.user.as_ref().map(|u| json!({"user_id": u})),
        extra: Map::new(),
    })
}

/// Appends a turn, merging it into the previous one of the same role (Anthropic wants
/// user and assistant turns to alternate).
fn push(messages: &mut Vec<Message>, role: &str, blocks: Vec<Value>) {
    if blocks.is_empty() {
        return;
    }
    if let Some(last) = messages.last_mut().filter(|m| m.role == role) {
        if let Value::Array(content) = &mut last.content {
            content.extend(blocks);
            return;
        }
    }
    messages.push(Message {
        role: role.to_string(),
        content: Value::Array(blocks),
    });
}

/// A text part as a text block, keeping `cache_control`.
fn text_block(part: &TextPart) -> Value {
    let mut block = json!({"type": "text", "text": part.text});
    if let Some(cache) = &part.cache_control {
        block["cache_control"] = cache.clone();
    }
    block
}

fn media_source(media: &Media) -> Value {
    match media {
        Media::Base64 { media_type, data } => {
            json!({"type": "base64", "media_type": media_type, "data": data})
        }
        Media::Url(url) => json!({"type": "url", "url": url}),
    }
}

/// A core block as a Messages content block; `None` for what Anthropic cannot take back
/// (reasoning without its signature).
fn block(b: &Block) -> Option<Value> {
    Some(match b {
        Block::Text(part) => text_block(part),
        Block::Image(media) => json!({"type": "image", "source": media_source(media)}),
        Block::Document { source, title } => {
            let source = match source {
                DocumentSource::Text(text) => {
                    json!({"type": "text", "media_type": "text/plain", "data": text})
                }
                DocumentSource::Base64 { media_type, data } => {
                    json!({"type": "base64", "media_type": media_type, "data": data})
                }
                DocumentSource::Url(url) => json!({"type": "url", "url": url}),
                DocumentSource::FileId(id) => json!({"type": "file", "file_id": id}),
            };
            let mut block = json!({"type": "document", "source": source});
            if let Some(title) = title {
                block["title"] = json!(title);
            }
            block
        }
        Block::ToolUse { id, name, input } => {
            json!({"type": "tool_use", "id": id, "name": name, "input": input})
        }
        Block::ToolResult {
            tool_use_id,
            content,
            is_error,
        } => {
            let mut block =
                json!({"type": "tool_result", "tool_use_id": tool_use_id, "content": content});
            if *is_error {
                block["is_error"] = json!(true);
            }
            block
        }
        Block::Thinking { signature, .. } if signature.is_empty() => return None,
        Block::Thinking { text, signature } => {
            json!({"type": "thinking", "thinking": text, "signature": signature})
        }
        Block::RedactedThinking { data } => json!({"type": "redacted_thinking", "data": data}),
    })
}

/// A whole Messages answer as the core's.
pub fn decode_reply(body: &[u8]) -> Result<Reply, String> {
    let answer: MessagesResponse =
        serde_json::from_slice(body).map_err(|e| format!("unreadable Anthropic answer: {e}"))?;
    let formatted = answer
        .content
        .iter()
        .any(|b| matches!(b, WireBlock::ToolUse { name, .. } if name == FORMAT_TOOL));
    let blocks = answer
        .content
        .into_iter()
        .filter_map(|b| match b {
            WireBlock::Text { text } => Some(Block::Text(TextPart::new(text))),
            WireBlock::Thinking {
                thinking,
                signature,
            } => Some(Block::Thinking {
                text: thinking,
                signature,
            }),
            WireBlock::ToolUse { input, name, .. } if name == FORMAT_TOOL => {
                Some(Block::Text(TextPart::new(input.to_string())))
            }
            WireBlock::ToolUse { id, name, input } => Some(Block::ToolUse { id, name, input }),
            WireBlock::Other => None,
        })
        .collect();
    Ok(Reply {
        id: answer.id,
        model: answer.model,
        blocks,
        stop: answer
            .stop_reason
            .as_deref()
            .map(stop_reason)
            .map(|stop| match stop {
                StopReason::ToolUse if formatted => StopReason::EndTurn,
                other => other,
            }),
        usage: answer.usage.map(AnthropicUsage::to_usage),
    })
}

/// Reads Anthropic's stream events as core events. Usage arrives in two parts: input in
/// `message_start`, output (and sometimes input again) in `message_delta`.
#[derive(Default)]
pub struct MessageEventReader {
    usage: Option<AnthropicUsage>,
    /// The block that is the forced structured-output tool's call (read as text).
    format_block: Option<usize>,
}

impl EventReader for MessageEventReader {
    fn read(&mut self, data: &[u8], events: &mut Vec<Event>) {
        let Ok(event) = serde_json::from_slice::<StreamEvent>(data) else {
            return;
        };
        match event {
            StreamEvent::MessageStart { message } => {
                events.push(Event::Start {
                    id: message.id,
                    model: message.model,
                });
                self.usage = message.usage;
                if let Some(u) = self.usage {
                    events.push(Event::Usage(u.to_usage()));
                }
            }
            StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => {
                let field = |name: &str| content_block[name].as_str().unwrap_or("").to_string();
                let block = match content_block["type"].as_str() {
                    Some("text") => BlockKind::Text,
                    Some("thinking") => BlockKind::Thinking,
                    Some("tool_use") if field("name") == FORMAT_TOOL => {
                        self.format_block = Some(index);
                        BlockKind::Text
                    }
                    Some("tool_use") => BlockKind::ToolUse {
                        id: field("id"),
                        name: field("name"),
                    },
                    _ => BlockKind::Other,
                };
                events.push(Event::BlockStart { index, block });
            }
            StreamEvent::ContentBlockDelta { index, delta } => {
                let delta = match delta {
                    Delta::TextDelta { text } => BlockDelta::Text(text),
                    Delta::ThinkingDelta { thinking } => BlockDelta::Thinking(thinking),
                    Delta::SignatureDelta { signature } => BlockDelta::Signature(signature),
                    Delta::InputJsonDelta { partial_json } if self.format_block == Some(index) => {
                        BlockDelta::Text(partial_json)
                    }
                    Delta::InputJsonDelta { partial_json } => BlockDelta::ToolInput(partial_json),
                    Delta::Other => return,
                };
                events.push(Event::BlockDelta { index, delta });
            }
            StreamEvent::ContentBlockStop { index } => events.push(Event::BlockStop { index }),
            StreamEvent::MessageDelta { delta, usage } => {
                if let Some(u) = usage {
                    let merged = self.usage.unwrap_or_default().merged(u);
                    self.usage = Some(merged);
                    events.push(Event::Usage(merged.to_usage()));
                }
                if let Some(stop) = delta.stop_reason.as_deref() {
                    let stop = match stop_reason(stop) {
                        // The forced format tool's call is the answer.
                        StopReason::ToolUse if self.format_block.is_some() => StopReason::EndTurn,
                        other => other,
                    };
                    events.push(Event::Finish(stop));
                }
            }
            StreamEvent::MessageStop => events.push(Event::Done),
            StreamEvent::Error { error } => events.push(Event::Error {
                kind: error["type"].as_str().map(str::to_string),
                message: error["message"]
                    .as_str()
                    .unwrap_or("upstream error")
                    .to_string(),
            }),
            StreamEvent::Ping | StreamEvent::Unknown => {}
        }
    }
}
