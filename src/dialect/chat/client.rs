//! The client side of Chat Completions: an OpenAI-speaking client's request as the core's,
//! and core answers and events as Chat Completions answers and chunks.

use bytes::{Bytes, BytesMut};
use serde_json::{json, Value};

use super::wire::{
    finish_reason, AnswerMessage, ChatCompletion, ChatContent, ChatMessage, ChatRequest,
    ChatToolCall, ChatUsage, Choice, ContentPart, FunctionCall, Stop,
};
use crate::core::event::{BlockDelta, BlockKind, Event};
use crate::core::reply::Reply;
use crate::core::request::{
    Block, DocumentSource, Effort, Media, Reasoning, Request, ResponseFormat, Role, TextPart, Tool,
    ToolChoice, Turn,
};
use crate::core::stream::{EventWriter, StreamState};
use crate::core::text::truncate;
use crate::error::ApiError;

/// A Chat Completions request body as the core's request.
pub fn decode_request(raw: &[u8]) -> Result<Request, ApiError> {
    let chat: ChatRequest = serde_json::from_slice(raw)
        .map_err(|e| ApiError::invalid(format!("invalid chat request: {e}")))?;
    decode(&chat)
}

/// A parsed Chat Completions request as the core's request.
fn decode(req: &ChatRequest) -> Result<Request, ApiError> {
    let mut call = Request {
        model: req.model.clone(),
        max_output_tokens: match (req.max_tokens, req.max_completion_tokens) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        },
        parallel_tool_calls: req.parallel_tool_calls,
        user: req.user.clone(),
        stream: req.stream == Some(true),
        ..Request::default()
    };
    for m in &req.messages {
        match m.role.as_str() {
            "system" | "developer" => call.system.extend(text_parts(m)),
            "user" => push(&mut call.turns, Role::User, user_blocks(m)?),
            "assistant" => push(&mut call.turns, Role::Assistant, assistant_blocks(m)),
            "tool" | "function" => {
                let content = text_parts(m)
                    .into_iter()
                    .map(|p| p.text)
                    .collect::<Vec<_>>()
                    .join("\n");
                let result = Block::ToolResult {
                    tool_use_id: m.tool_call_id.clone().unwrap_or_default(),
                    content,
                    is_error: false,
                };
                push(&mut call.turns, Role::User, vec![result]);
            }
            other => {
                return Err(ApiError::invalid_param(
                    "messages",
                    format!("unknown message role '{}'", truncate(other, 40)),
                ))
            }
        }
    }
    call.sampling.temperature = req.temperature;
    call.sampling.top_p = req.top_p;
    call.sampling.stop = match &req.stop {
        None => Vec::new(),
        Some(Stop::One(one)) => vec![one.clone()],
        Some(Stop::Many(many)) => many.clone(),
    };
    call.tools = req
        .tools
        .iter()
        .flatten()
        .map(|t| Tool::Function {
            name: t.function.name.clone(),
            description: t.function.description.clone(),
            schema: t.function.parameters.clone(),
        })
        .collect();
    call.tool_choice = match &req.tool_choice {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(match s.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            other => {
                return Err(ApiError::invalid_param(
                    "tool_choice",
                    format!("unknown tool_choice '{}'", truncate(other, 40)),
                ))
            }
        }),
        Some(v) => match v.pointer("/function/name").and_then(Value::as_str) {
            Some(name) => Some(ToolChoice::Tool(name.to_string())),
            None => {
                return Err(ApiError::invalid_param(
                    "tool_choice",
                    "unknown tool_choice",
                ))
            }
        },
    };
    call.reasoning = req
        .reasoning_effort
        .as_deref()
        .and_then(Effort::parse)
        .map(Reasoning::Effort);
    call.response_format = req.response_format.as_ref().and_then(response_format);
    Ok(call)
}

/// `response_format` as the core's; unknown kinds are left out.
fn response_format(v: &Value) -> Option<ResponseFormat> {
    match v["type"].as_str()? {
        "text" => Some(ResponseFormat::Text),
        "json_object" => Some(ResponseFormat::JsonObject),
        "json_schema" => {
            let spec = &v["json_schema"];
            Some(ResponseFormat::JsonSchema {
                name: spec["name"].as_str().unwrap_or("response").to_string(),
                schema: spec.get("schema").cloned().unwrap_or_else(|| json!({})),
                strict: spec["strict"].as_bool(),
            })
        }
        _ => None,
    }
}

/// Appends a turn, merging it into the previous one of the same role (consecutive tool
/// results are one user turn).
fn push(turns: &mut Vec<Turn>, role: Role, blocks: Vec<Block>) {
    if blocks.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some(last) if last.role == role => last.blocks.extend(blocks),
        _ => turns.push(Turn { role, blocks }),
    }
}

/// A text part, keeping its `cache_control`.
fn text_part(text: &str, part: Option<&ContentPart>) -> TextPart {
    TextPart {
        text: text.to_string(),
        cache_control: part.and_then(|p| p.extra.get("cache_control")).cloned(),
    }
}

fn text_parts(m: &ChatMessage) -> Vec<TextPart> {
    match &m.content {
        None => Vec::new(),
        Some(ChatContent::Text(t)) if t.is_empty() => Vec::new(),
        Some(ChatContent::Text(t)) => vec![text_part(t, None)],
        Some(ChatContent::Parts(parts)) => parts
            .iter()
            .filter_map(|p| p.text.as_deref().map(|t| text_part(t, Some(p))))
            .collect(),
    }
}

fn user_blocks(m: &ChatMessage) -> Result<Vec<Block>, ApiError> {
    let Some(ChatContent::Parts(parts)) = &m.content else {
        return Ok(text_parts(m).into_iter().map(Block::Text).collect());
    };
    parts
        .iter()
        .map(|p| match p.kind.as_str() {
            "text" => Ok(Block::Text(text_part(
                p.text.as_deref().unwrap_or(""),
                Some(p),
            ))),
            "image_url" => {
                let url = p
                    .image_url
                    .as_ref()
                    .map(|i| i.url.as_str())
                    .ok_or_else(|| ApiError::invalid_param("messages", "image_url needs a url"))?;
                Ok(Block::Image(media_of_url(url)?))
            }
            "file" => {
                let file = p.file.clone().unwrap_or_default();
                let source = match (file.file_data, file.file_id) {
                    (Some(data), _) => match media_of_url(&data)? {
                        Media::Base64 { media_type, data } => {
                            DocumentSource::Base64 { media_type, data }
                        }
                        Media::Url(url) => DocumentSource::Url(url),
                    },
                    (None, Some(id)) => DocumentSource::FileId(id),
                    (None, None) => {
                        return Err(ApiError::invalid_param(
                            "messages",
                            "a file part needs file_data or file_id",
                        ))
                    }
                };
                Ok(Block::Document {
                    source,
                    title: file.filename,
                })
            }
            other => Err(ApiError::invalid_param(
                "messages",
                format!(
                    "content part '{}' cannot be translated for this provider (text, \
                     image_url and file can)",
                    truncate(other, 40)
                ),
            )),
        })
        .collect()
}

/// `data:image/png;base64,…` → base64 data; an http(s) URL → a URL.
pub fn media_of_url(url: &str) -> Result<Media, ApiError> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest
            .split_once(',')
            .ok_or_else(|| ApiError::invalid_param("messages", "malformed data: URL"))?;
        let media_type = meta
            .strip_suffix(";base64")
            .ok_or_else(|| ApiError::invalid_param("messages", "data: URLs must be base64"))?;
        return Ok(Media::Base64 {
            media_type: media_type.to_string(),
            data: data.to_string(),
        });
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(Media::Url(url.to_string()));
    }
    Err(ApiError::invalid_param(
        "messages",
        "image_url must be an http(s) or data: URL",
    ))
}

fn assistant_blocks(m: &ChatMessage) -> Vec<Block> {
    let mut blocks: Vec<Block> = text_parts(m).into_iter().map(Block::Text).collect();
    for call in m.tool_calls.iter().flatten() {
        blocks.push(Block::ToolUse {
            id: call.id.clone(),
            name: call.function.name.clone(),
            input: parse_arguments(&call.function.arguments),
        });
    }
    blocks
}

/// Tool-call arguments (a JSON string, which a model may have got wrong) as an object.
pub fn parse_arguments(arguments: &str) -> Value {
    serde_json::from_str(arguments)
        .ok()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}))
}

/// A whole answer as a Chat Completions answer.
pub fn encode_reply(reply: &Reply, created: i64) -> Bytes {
    let mut text = String::new();
    let mut thinking = String::new();
    let mut tool_calls = Vec::new();
    for block in &reply.blocks {
        match block {
            Block::Text(part) => text.push_str(&part.text),
            Block::Thinking { text: t, .. } => thinking.push_str(t),
            Block::ToolUse { id, name, input } => tool_calls.push(ChatToolCall {
                id: id.clone(),
                kind: "function".into(),
                function: FunctionCall {
                    name: name.clone(),
                    arguments: input.to_string(),
                },
            }),
            _ => {}
        }
    }
    let completion = ChatCompletion {
        id: reply.id.clone(),
        object: "chat.completion",
        created,
        model: reply.model.clone(),
        choices: vec![Choice {
            index: 0,
            message: AnswerMessage {
                role: "assistant",
                content: (!text.is_empty() || tool_calls.is_empty()).then_some(text),
                reasoning_content: (!thinking.is_empty()).then_some(thinking),
                tool_calls,
            },
            finish_reason: reply.stop.map(finish_reason),
        }],
        usage: ChatUsage::of(&reply.usage.unwrap_or_default()),
    };
    Bytes::from(serde_json::to_vec(&completion).expect("an answer always serializes"))
}

/// Writes core events as Chat Completions chunks (`data: {…}` lines, `data: [DONE]`).
pub struct ChunkWriter {
    id: String,
    model: String,
    created: i64,
    /// The client asked for the usage chunk (`stream_options.include_usage`).
    usage_chunk: bool,
    /// Block index → tool-call index, for the blocks that are tool calls.
    tool_index: Vec<(usize, usize)>,
}

impl ChunkWriter {
    pub fn new(usage_chunk: bool, created: i64) -> ChunkWriter {
        ChunkWriter {
            id: String::new(),
            model: String::new(),
            created,
            usage_chunk,
            tool_index: Vec::new(),
        }
    }

    fn chunk(&self, out: &mut BytesMut, delta: Value, finish: Option<&str>) {
        let chunk = json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        });
        write_data(out, &chunk);
    }

    fn tool(&self, index: usize) -> usize {
        self.tool_index
            .iter()
            .find(|(i, _)| *i == index)
            .map_or(0, |(_, n)| *n)
    }
}

impl EventWriter for ChunkWriter {
    fn write(&mut self, event: &Event, state: &StreamState, out: &mut BytesMut) {
        match event {
            Event::Start { id, model } => {
                self.id.clone_from(id);
                self.model.clone_from(model);
                self.chunk(out, json!({"role": "assistant", "content": ""}), None);
            }
            Event::BlockStart {
                index,
                block: BlockKind::ToolUse { id, name },
            } => {
                let n = self.tool_index.len();
                self.tool_index.push((*index, n));
                let call = json!({"index": n, "id": id, "type": "function",
                    "function": {"name": name, "arguments": ""}});
                self.chunk(out, json!({"tool_calls": [call]}), None);
            }
            Event::BlockDelta { index, delta } => match delta {
                BlockDelta::Text(text) => self.chunk(out, json!({"content": text}), None),
                BlockDelta::Thinking(text) => {
                    self.chunk(out, json!({"reasoning_content": text}), None)
                }
                BlockDelta::ToolInput(json) => {
                    let call = json!({"index": self.tool(*index),
                        "function": {"arguments": json}});
                    self.chunk(out, json!({"tool_calls": [call]}), None);
                }
                BlockDelta::Signature(_) => {}
            },
            Event::Finish(stop) => self.chunk(out, json!({}), Some(finish_reason(*stop))),
            Event::Done => {
                if self.usage_chunk {
                    let usage = ChatUsage::of(&state.usage.unwrap_or_default());
                    let chunk = json!({
                        "id": self.id, "object": "chat.completion.chunk",
                        "created": self.created, "model": self.model, "choices": [],
                        "usage": usage,
                    });
                    write_data(out, &chunk);
                }
                out.extend_from_slice(b"data: [DONE]\n\n");
            }
            Event::Error { kind, message } => {
                let body = json!({"error": {"message": message, "type": "upstream_error",
                    "code": kind, "param": null}});
                write_data(out, &body);
            }
            Event::BlockStart { .. } | Event::BlockStop { .. } | Event::Usage(_) => {}
        }
    }
}

fn write_data(out: &mut BytesMut, value: &Value) {
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(value.to_string().as_bytes());
    out.extend_from_slice(b"\n\n");
}
