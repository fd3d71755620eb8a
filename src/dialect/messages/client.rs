//! The client side of Anthropic Messages: an Anthropic-speaking client's request (the SDK,
//! Claude Code) as the core's, and core answers and events as Messages answers and
//! Anthropic's exact event sequence.

use bytes::{Bytes, BytesMut};
use serde_json::{json, Value};

use super::wire::{stop_reason_name, usage_object, MessagesRequest};
use crate::core::event::{BlockDelta, BlockKind, Event};
use crate::core::reply::{Reply, StopReason};
use crate::core::request::{
    Block, DocumentSource, Media, Reasoning, Request, Role, TextPart, Tool, ToolChoice, Turn,
};
use crate::core::stream::{EventWriter, StreamState};
use crate::core::text::truncate;
use crate::error::ApiError;

/// A Messages request body as the core's request.
pub fn decode_request(raw: &[u8]) -> Result<Request, ApiError> {
    let req: MessagesRequest = serde_json::from_slice(raw)
        .map_err(|e| ApiError::invalid(format!("invalid messages request: {e}")))?;
    decode(&req)
}

/// A parsed Messages request as the core's request.
fn decode(req: &MessagesRequest) -> Result<Request, ApiError> {
    let mut call = Request {
        model: req.model.clone(),
        system: req.system.as_ref().map(text_parts).unwrap_or_default(),
        max_output_tokens: Some(req.max_tokens),
        stream: req.stream == Some(true),
        user: req
            .metadata
            .as_ref()
            .and_then(|m| m["user_id"].as_str())
            .map(str::to_string),
        ..Request::default()
    };
    for m in &req.messages {
        let (role, blocks) = match m.role.as_str() {
            // Claude Code sends `system` entries inside `messages` too.
            "system" => (
                Role::System,
                text_parts(&m.content)
                    .into_iter()
                    .map(Block::Text)
                    .collect(),
            ),
            "user" => (Role::User, blocks(&m.content, user_block)?),
            "assistant" => (Role::Assistant, blocks(&m.content, assistant_block)?),
            other => {
                return Err(ApiError::invalid_param(
                    "messages",
                    format!(
                        "unknown role '{}' (user, assistant or system)",
                        truncate(other, 40)
                    ),
                ))
            }
        };
        if !blocks.is_empty() {
            call.turns.push(Turn { role, blocks });
        }
    }
    call.sampling.temperature = req.temperature;
    call.sampling.top_p = req.top_p;
    call.sampling.stop = req.stop_sequences.clone().unwrap_or_default();
    call.tools = req
        .tools
        .iter()
        .flatten()
        .map(|t| match t.kind.as_deref() {
            Some(kind) if kind != "custom" => Tool::Hosted {
                kind: kind.to_string(),
            },
            _ => Tool::Function {
                name: t.name.clone(),
                description: t.description.clone(),
                schema: t.input_schema.clone(),
            },
        })
        .collect();
    if let Some(choice) = &req.tool_choice {
        call.tool_choice = Some(match choice["type"].as_str() {
            Some("auto") => ToolChoice::Auto,
            Some("any") => ToolChoice::Required,
            Some("none") => ToolChoice::None,
            Some("tool") => ToolChoice::Tool(choice["name"].as_str().unwrap_or("").to_string()),
            _ => {
                return Err(ApiError::invalid_param(
                    "tool_choice",
                    "unknown tool_choice",
                ))
            }
        });
        if choice["disable_parallel_tool_use"] == true {
            call.parallel_tool_calls = Some(false);
        }
    }
    call.reasoning = req
        .thinking
        .as_ref()
        .filter(|t| t["type"] == "enabled")
        .and_then(|t| t["budget_tokens"].as_i64())
        .map(Reasoning::Budget);
    Ok(call)
}

/// The text parts of a string or of a list of blocks (their `text`s).
fn text_parts(content: &Value) -> Vec<TextPart> {
    match content {
        Value::String(s) if s.is_empty() => Vec::new(),
        Value::String(s) => vec![TextPart::new(s.clone())],
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| {
                Some(TextPart {
                    text: b["text"].as_str()?.to_string(),
                    cache_control: b.get("cache_control").cloned(),
                })
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The text of a string or of a list of blocks, joined by newlines.
fn text_of(content: &Value) -> String {
    text_parts(content)
        .into_iter()
        .map(|p| p.text)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A turn's blocks (a string is one text block), each decoded by `decode`.
fn blocks(
    content: &Value,
    decode: fn(&Value, &str) -> Result<Option<Block>, ApiError>,
) -> Result<Vec<Block>, ApiError> {
    match content {
        Value::String(s) => Ok(vec![Block::Text(TextPart::new(s.clone()))]),
        Value::Array(blocks) => {
            let mut out = Vec::with_capacity(blocks.len());
            for block in blocks {
                let kind = block["type"].as_str().ok_or_else(|| {
                    ApiError::invalid_param("messages", "a content block has no 'type'")
                })?;
                out.extend(decode(block, kind)?);
            }
            Ok(out)
        }
        _ => Ok(Vec::new()),
    }
}

/// A 400 naming a block type that has no meaning outside Anthropic's API.
fn untranslatable(kind: &str) -> ApiError {
    ApiError::invalid_param(
        "messages",
        format!(
            "content block type '{}' cannot be sent to an OpenAI-compatible provider: it is \
             Anthropic's own (server tools, containers) or unknown; route this model to an \
             Anthropic provider, or leave the block out",
            truncate(kind, 60)
        ),
    )
}

fn text_block(block: &Value) -> Block {
    Block::Text(TextPart {
        text: block["text"].as_str().unwrap_or("").to_string(),
        cache_control: block.get("cache_control").cloned(),
    })
}

fn thinking_block(block: &Value, kind: &str) -> Block {
    let field = |name: &str| block[name].as_str().unwrap_or("").to_string();
    if kind == "thinking" {
        Block::Thinking {
            text: field("thinking"),
            signature: field("signature"),
        }
    } else {
        Block::RedactedThinking {
            data: field("data"),
        }
    }
}

fn user_block(block: &Value, kind: &str) -> Result<Option<Block>, ApiError> {
    Ok(Some(match kind {
        "text" => text_block(block),
        "image" => Block::Image(media(&block["source"])?),
        "tool_result" => Block::ToolResult {
            tool_use_id: block["tool_use_id"].as_str().unwrap_or("").to_string(),
            content: text_of(&block["content"]),
            is_error: block["is_error"] == true,
        },
        "document" => Block::Document {
            source: document_source(&block["source"])?,
            title: block["title"].as_str().map(str::to_string),
        },
        // A search result the client supplies: its title, source and text.
        "search_result" => {
            let mut text = String::new();
            for field in ["title", "source"] {
                if let Some(v) = block[field].as_str() {
                    text.push_str(v);
                    text.push('\n');
                }
            }
            text.push_str(&text_of(&block["content"]));
            Block::Text(TextPart::new(text))
        }
        "thinking" | "redacted_thinking" => thinking_block(block, kind),
        other => return Err(untranslatable(other)),
    }))
}

fn assistant_block(block: &Value, kind: &str) -> Result<Option<Block>, ApiError> {
    Ok(Some(match kind {
        "text" => text_block(block),
        "tool_use" => Block::ToolUse {
            id: block["id"].as_str().unwrap_or("").to_string(),
            name: block["name"].as_str().unwrap_or("").to_string(),
            input: block.get("input").cloned().unwrap_or_else(|| json!({})),
        },
        "thinking" | "redacted_thinking" => thinking_block(block, kind),
        other => return Err(untranslatable(other)),
    }))
}

/// An image block's source.
fn media(source: &Value) -> Result<Media, ApiError> {
    let field = |name: &str| source[name].as_str().unwrap_or("").to_string();
    match source["type"].as_str() {
        Some("base64") => Ok(Media::Base64 {
            media_type: source["media_type"]
                .as_str()
                .unwrap_or("image/png")
                .to_string(),
            data: field("data"),
        }),
        Some("url") => Ok(Media::Url(field("url"))),
        _ => Err(ApiError::invalid_param(
            "messages",
            "image source must be base64 or url",
        )),
    }
}

/// A document block's source.
fn document_source(source: &Value) -> Result<DocumentSource, ApiError> {
    let field = |name: &str| source[name].as_str().unwrap_or("").to_string();
    match source["type"].as_str() {
        Some("text") => Ok(DocumentSource::Text(field("data"))),
        Some("content") => Ok(DocumentSource::Text(text_of(&source["content"]))),
        Some("base64") => Ok(DocumentSource::Base64 {
            media_type: source["media_type"]
                .as_str()
                .unwrap_or("application/pdf")
                .to_string(),
            data: field("data"),
        }),
        Some("url") => Ok(DocumentSource::Url(field("url"))),
        Some("file") => Ok(DocumentSource::FileId(field("file_id"))),
        other => Err(ApiError::invalid_param(
            "messages",
            format!(
                "unknown document source type '{}'",
                truncate(other.unwrap_or("missing"), 40)
            ),
        )),
    }
}

/// A core block as an answer's content block.
fn answer_block(block: &Block) -> Option<Value> {
    Some(match block {
        Block::Text(part) => json!({"type": "text", "text": part.text}),
        Block::Thinking { text, signature } => {
            json!({"type": "thinking", "thinking": text, "signature": signature})
        }
        Block::RedactedThinking { data } => json!({"type": "redacted_thinking", "data": data}),
        Block::ToolUse { id, name, input } => {
            json!({"type": "tool_use", "id": id, "name": name, "input": input})
        }
        _ => return None,
    })
}

/// A whole answer as a Messages answer.
pub fn encode_reply(reply: &Reply) -> Bytes {
    let content: Vec<Value> = reply.blocks.iter().filter_map(answer_block).collect();
    let message = json!({
        "id": format!("msg_{}", reply.id),
        "type": "message",
        "role": "assistant",
        "model": reply.model,
        "content": content,
        "stop_reason": stop_reason_name(reply.stop.unwrap_or(StopReason::EndTurn)),
        "stop_sequence": null,
        "usage": usage_object(&reply.usage.unwrap_or_default()),
    });
    Bytes::from(message.to_string())
}

/// Writes core events as Anthropic's event sequence: `message_start`, per block
/// `content_block_start` / `_delta`… / `_stop`, `message_delta` with the stop reason and
/// usage, `message_stop`.
#[derive(Default)]
pub struct EventSequenceWriter {
    started: bool,
    stop: Option<StopReason>,
    done: bool,
}

impl EventWriter for EventSequenceWriter {
    fn write(&mut self, event: &Event, state: &StreamState, out: &mut BytesMut) {
        match event {
            Event::Start { id, model } => {
                self.started = true;
                sse(
                    out,
                    "message_start",
                    &json!({"type": "message_start", "message": {
                        "id": format!("msg_{id}"), "type": "message",
                        "role": "assistant", "model": model, "content": [],
                        "stop_reason": null, "stop_sequence": null,
                        "usage": {"input_tokens": 0, "output_tokens": 0}}}),
                );
            }
            Event::BlockStart { index, block } => {
                let block = match block {
                    BlockKind::Thinking => {
                        json!({"type": "thinking", "thinking": "", "signature": ""})
                    }
                    BlockKind::Text => json!({"type": "text", "text": ""}),
                    BlockKind::ToolUse { id, name } => {
                        json!({"type": "tool_use", "id": id, "name": name, "input": {}})
                    }
                    BlockKind::Other => return,
                };
                sse(
                    out,
                    "content_block_start",
                    &json!({"type": "content_block_start", "index": index,
                        "content_block": block}),
                );
            }
            Event::BlockDelta { index, delta } => {
                let delta = match delta {
                    BlockDelta::Text(text) => json!({"type": "text_delta", "text": text}),
                    BlockDelta::Thinking(text) => {
                        json!({"type": "thinking_delta", "thinking": text})
                    }
                    BlockDelta::Signature(s) => json!({"type": "signature_delta", "signature": s}),
                    BlockDelta::ToolInput(json) => {
                        json!({"type": "input_json_delta", "partial_json": json})
                    }
                };
                sse(
                    out,
                    "content_block_delta",
                    &json!({"type": "content_block_delta", "index": index, "delta": delta}),
                );
            }
            Event::BlockStop { index } => sse(
                out,
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            ),
            Event::Finish(stop) => self.stop = Some(*stop),
            Event::Done => {
                if self.done || !self.started {
                    return;
                }
                let mut usage = usage_object(&state.usage.unwrap_or_default());
                if state.usage.is_none() {
                    usage["output_tokens"] = json!(state.generated.tokens());
                }
                let stop = stop_reason_name(self.stop.unwrap_or(StopReason::EndTurn));
                sse(
                    out,
                    "message_delta",
                    &json!({"type": "message_delta",
                        "delta": {"stop_reason": stop, "stop_sequence": null},
                        "usage": usage}),
                );
                sse(out, "message_stop", &json!({"type": "message_stop"}));
                self.done = true;
            }
            Event::Error { message, .. } => sse(
                out,
                "error",
                &json!({"type": "error", "error": {"type": "api_error", "message": message}}),
            ),
            Event::Usage(_) => {}
        }
    }
}

fn sse(out: &mut BytesMut, name: &str, data: &Value) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(data.to_string().as_bytes());
    out.extend_from_slice(b"\n\n");
}
