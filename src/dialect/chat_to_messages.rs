//! An OpenAI-speaking client in front of an Anthropic upstream: Chat Completions requests
//! become Messages requests, and Messages answers (whole or streamed, event by event) become
//! Chat Completions answers and chunks.

use bytes::BytesMut;
use serde_json::{json, Map, Value};

use super::anthropic::{
    finish_reason, Block, Delta, Message, MessagesRequest, MessagesResponse, StreamEvent,
};
use super::openai::{
    AnswerMessage, ChatCompletion, ChatContent, ChatMessage, ChatRequest, ChatToolCall, ChatUsage,
    Choice, ContentPart, FunctionCall, PromptDetails, Stop,
};
use super::sse::{DataEvents, SseLines};
use crate::core::stream::StreamTranslator;
use crate::core::usage::TextEstimate;
use crate::core::usage::Usage;
use crate::error::ApiError;

/// Thinking budgets for OpenAI's `reasoning_effort`.
fn thinking_budget(effort: &str) -> Option<i64> {
    match effort {
        "minimal" | "low" => Some(1024),
        "medium" => Some(4096),
        "high" => Some(16_384),
        _ => None,
    }
}

/// The Messages request for a Chat Completions request. `max_tokens` is what the gateway
/// decided (Anthropic requires one).
pub fn request(
    req: &ChatRequest,
    model: &str,
    max_tokens: i64,
    stream: bool,
) -> Result<MessagesRequest, ApiError> {
    let mut system: Vec<Value> = Vec::new();
    let mut messages: Vec<Message> = Vec::new();
    for m in &req.messages {
        match m.role.as_str() {
            "system" | "developer" => system.extend(text_blocks(m)?),
            "user" => push(&mut messages, "user", user_blocks(m)?),
            "assistant" => push(&mut messages, "assistant", assistant_blocks(m)?),
            "tool" | "function" => {
                let id = m.tool_call_id.clone().unwrap_or_default();
                let text: String = text_blocks(m)?
                    .iter()
                    .filter_map(|b| b["text"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n");
                push(
                    &mut messages,
                    "user",
                    vec![json!({"type": "tool_result", "tool_use_id": id, "content": text})],
                );
            }
            other => {
                return Err(ApiError::invalid_param(
                    "messages",
                    format!(
                        "unknown message role '{}'",
                        crate::core::text::truncate(other, 40)
                    ),
                ))
            }
        }
    }
    if messages.is_empty() {
        return Err(ApiError::invalid_param(
            "messages",
            "at least one user or assistant message is required",
        ));
    }
    let mut thinking = None;
    if let Some(budget) = req.reasoning_effort.as_deref().and_then(thinking_budget) {
        // Anthropic needs the thinking budget below max_tokens (and at least 1024).
        let budget = budget.min(max_tokens - 1);
        if budget >= 1024 {
            thinking = Some(json!({"type": "enabled", "budget_tokens": budget}));
        }
    }
    let tools = req.tools.as_ref().map(|tools| {
        tools
            .iter()
            .map(|t| {
                let mut tool = Map::new();
                tool.insert("name".into(), json!(t.function.name));
                if let Some(d) = &t.function.description {
                    tool.insert("description".into(), json!(d));
                }
                tool.insert(
                    "input_schema".into(),
                    t.function
                        .parameters
                        .clone()
                        .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
                );
                Value::Object(tool)
            })
            .collect()
    });
    let mut tool_choice = match &req.tool_choice {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match s.as_str() {
            "auto" => Some(json!({"type": "auto"})),
            "none" => Some(json!({"type": "none"})),
            "required" => Some(json!({"type": "any"})),
            other => {
                return Err(ApiError::invalid_param(
                    "tool_choice",
                    format!(
                        "unknown tool_choice '{}'",
                        crate::core::text::truncate(other, 40)
                    ),
                ))
            }
        },
        Some(v) => match v.pointer("/function/name").and_then(Value::as_str) {
            Some(name) => Some(json!({"type": "tool", "name": name})),
            None => {
                return Err(ApiError::invalid_param(
                    "tool_choice",
                    "unknown tool_choice",
                ))
            }
        },
    };
    if req.parallel_tool_calls == Some(false) && tools.is_some() {
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
        system: (!system.is_empty()).then_some(system),
        stop_sequences: req.stop.as_ref().map(|s| match s {
            Stop::One(one) => vec![one.clone()],
            Stop::Many(many) => many.clone(),
        }),
        // OpenAI allows 0..=2, Anthropic 0..=1.
        temperature: req
            .temperature
            .filter(|_| sampling)
            .map(|t| t.clamp(0.0, 1.0)),
        top_p: req.top_p.filter(|_| sampling),
        stream: stream.then_some(true),
        tools,
        tool_choice,
        thinking,
        metadata: req.user.as_ref().map(|u| json!({"user_id": u})),
    })
}

/// Appends a turn, merging it into the previous one of the same role (Anthropic wants
/// user and assistant turns to alternate; OpenAI sends consecutive tool results apart).
fn push(messages: &mut Vec<Message>, role: &str, blocks: Vec<Value>) {
    if blocks.is_empty() {
        return;
    }
    match messages.last_mut() {
        Some(last) if last.role == role => last.content.extend(blocks),
        _ => messages.push(Message {
            role: role.to_string(),
            content: blocks,
        }),
    }
}

/// A text part as a text block, keeping `cache_control`.
fn text_block(text: &str, part: Option<&ContentPart>) -> Value {
    let mut block = json!({"type": "text", "text": text});
    if let Some(cache) = part.and_then(|p| p.extra.get("cache_control")) {
        block["cache_control"] = cache.clone();
    }
    block
}

fn text_blocks(m: &ChatMessage) -> Result<Vec<Value>, ApiError> {
    Ok(match &m.content {
        None => Vec::new(),
        Some(ChatContent::Text(t)) if t.is_empty() => Vec::new(),
        Some(ChatContent::Text(t)) => vec![text_block(t, None)],
        Some(ChatContent::Parts(parts)) => parts
            .iter()
            .filter_map(|p| p.text.as_deref().map(|t| text_block(t, Some(p))))
            .collect(),
    })
}

fn user_blocks(m: &ChatMessage) -> Result<Vec<Value>, ApiError> {
    let Some(ChatContent::Parts(parts)) = &m.content else {
        return text_blocks(m);
    };
    parts
        .iter()
        .map(|p| match p.kind.as_str() {
            "text" => Ok(text_block(p.text.as_deref().unwrap_or(""), Some(p))),
            "image_url" => {
                let url = p
                    .image_url
                    .as_ref()
                    .map(|i| i.url.as_str())
                    .ok_or_else(|| ApiError::invalid_param("messages", "image_url needs a url"))?;
                Ok(json!({"type": "image", "source": image_source(url)?}))
            }
            other => Err(ApiError::invalid_param(
                "messages",
                format!(
                    "content part '{}' cannot be sent to an Anthropic model",
                    crate::core::text::truncate(other, 40)
                ),
            )),
        })
        .collect()
}

/// `data:image/png;base64,…` → a base64 source; an http(s) URL → a URL source.
fn image_source(url: &str) -> Result<Value, ApiError> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest
            .split_once(',')
            .ok_or_else(|| ApiError::invalid_param("messages", "malformed data: URL"))?;
        let media_type = meta
            .strip_suffix(";base64")
            .ok_or_else(|| ApiError::invalid_param("messages", "data: URLs must be base64"))?;
        return Ok(json!({"type": "base64", "media_type": media_type, "data": data}));
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(json!({"type": "url", "url": url}));
    }
    Err(ApiError::invalid_param(
        "messages",
        "image_url must be an http(s) or data: URL",
    ))
}

fn assistant_blocks(m: &ChatMessage) -> Result<Vec<Value>, ApiError> {
    let mut blocks = text_blocks(m)?;
    for call in m.tool_calls.iter().flatten() {
        // Arguments are a JSON string; a model may have produced invalid JSON.
        let input: Value = serde_json::from_str(&call.function.arguments)
            .ok()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        blocks.push(
            json!({"type": "tool_use", "id": call.id, "name": call.function.name, "input": input}),
        );
    }
    Ok(blocks)
}

/// A whole Messages answer as a Chat Completions answer, with its usage.
pub fn response(body: &[u8], created: i64) -> Result<(ChatCompletion, Option<Usage>), String> {
    let answer: MessagesResponse =
        serde_json::from_slice(body).map_err(|e| format!("unreadable Anthropic answer: {e}"))?;
    let mut text = String::new();
    let mut thinking = String::new();
    let mut tool_calls = Vec::new();
    for block in &answer.content {
        match block {
            Block::Text { text: t } => text.push_str(t),
            Block::Thinking { thinking: t } => thinking.push_str(t),
            Block::ToolUse { id, name, input } => tool_calls.push(ChatToolCall {
                id: id.clone(),
                kind: "function".into(),
                function: FunctionCall {
                    name: name.clone(),
                    arguments: input.to_string(),
                },
            }),
            Block::Other => {}
        }
    }
    let usage = answer.usage.map(|u| u.to_usage());
    let u = usage.unwrap_or_default();
    let completion = ChatCompletion {
        id: answer.id,
        object: "chat.completion",
        created,
        model: answer.model,
        choices: vec![Choice {
            index: 0,
            message: AnswerMessage {
                role: "assistant",
                content: (!text.is_empty() || tool_calls.is_empty()).then_some(text),
                reasoning_content: (!thinking.is_empty()).then_some(thinking),
                tool_calls,
            },
            finish_reason: finish_reason(answer.stop_reason.as_deref()),
        }],
        usage: chat_usage(&u),
    };
    Ok((completion, usage))
}

fn chat_usage(u: &Usage) -> ChatUsage {
    ChatUsage {
        prompt_tokens: u.prompt_tokens,
        completion_tokens: u.completion_tokens,
        total_tokens: u.total_tokens,
        prompt_tokens_details: PromptDetails {
            cached_tokens: u.cached_tokens,
        },
        cache_creation_input_tokens: (u.cache_write_tokens > 0).then_some(u.cache_write_tokens),
    }
}

/// Translates Anthropic stream events into Chat Completions chunks as they arrive.
pub struct MessagesToChatStream {
    lines: SseLines,
    id: String,
    model: String,
    created: i64,
    /// The client asked for the usage chunk.
    usage_chunk: bool,
    /// Anthropic block index → OpenAI tool-call index.
    tool_index: Vec<(usize, usize)>,
    usage: Option<crate::dialect::anthropic::AnthropicUsage>,
    generated: TextEstimate,
    done: bool,
    failed: bool,
}

impl MessagesToChatStream {
    pub fn new(usage_chunk: bool, created: i64, max_line: usize) -> MessagesToChatStream {
        MessagesToChatStream {
            lines: SseLines::new(max_line),
            id: String::new(),
            model: String::new(),
            created,
            usage_chunk,
            tool_index: Vec::new(),
            usage: None,
            generated: TextEstimate::default(),
            done: false,
            failed: false,
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

    fn event(&mut self, payload: &[u8], out: &mut BytesMut) {
        let Ok(event) = serde_json::from_slice::<StreamEvent>(payload) else {
            return;
        };
        match event {
            StreamEvent::MessageStart { message } => {
                self.id = message.id;
                self.model = message.model;
                self.usage = message.usage;
                self.chunk(out, json!({"role": "assistant", "content": ""}), None);
            }
            StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => {
                if content_block["type"] == "tool_use" {
                    let n = self.tool_index.len();
                    self.tool_index.push((index, n));
                    let name = content_block["name"].as_str().unwrap_or_default();
                    self.generated.add(name);
                    let call = json!({"index": n, "id": content_block["id"], "type": "function",
                        "function": {"name": name, "arguments": ""}});
                    self.chunk(out, json!({"tool_calls": [call]}), None);
                }
            }
            StreamEvent::ContentBlockDelta { index, delta } => match delta {
                Delta::TextDelta { text } => {
                    self.generated.add(&text);
                    self.chunk(out, json!({"content": text}), None);
                }
                Delta::ThinkingDelta { thinking } => {
                    self.generated.add(&thinking);
                    self.chunk(out, json!({"reasoning_content": thinking}), None);
                }
                Delta::InputJsonDelta { partial_json } => {
                    self.generated.add(&partial_json);
                    let n = self
                        .tool_index
                        .iter()
                        .find(|(i, _)| *i == index)
                        .map_or(0, |(_, n)| *n);
                    let call = json!({"index": n, "function": {"arguments": partial_json}});
                    self.chunk(out, json!({"tool_calls": [call]}), None);
                }
                Delta::Other => {}
            },
            StreamEvent::MessageDelta { delta, usage } => {
                if let Some(u) = usage {
                    let mut merged = self.usage.unwrap_or_default();
                    merged.output_tokens = u.output_tokens;
                    if u.input_tokens > 0 {
                        merged.input_tokens = u.input_tokens;
                    }
                    self.usage = Some(merged);
                }
                if let Some(finish) = finish_reason(delta.stop_reason.as_deref()) {
                    self.chunk(out, json!({}), Some(finish));
                }
            }
            StreamEvent::MessageStop => {
                if self.usage_chunk {
                    let u = self.usage.map(|u| u.to_usage()).unwrap_or_default();
                    let chunk = json!({
                        "id": self.id, "object": "chat.completion.chunk",
                        "created": self.created, "model": self.model, "choices": [],
                        "usage": chat_usage(&u),
                    });
                    write_data(out, &chunk);
                }
                out.extend_from_slice(b"data: [DONE]\n\n");
                self.done = true;
            }
            StreamEvent::Error { error } => {
                let message = error["message"].as_str().unwrap_or("upstream error");
                let body = json!({"error": {"message": message, "type": "upstream_error",
                    "code": error["type"], "param": null}});
                write_data(out, &body);
                self.failed = true;
            }
            StreamEvent::ContentBlockStop { .. } | StreamEvent::Ping | StreamEvent::Unknown => {}
        }
    }
}

fn write_data(out: &mut BytesMut, value: &Value) {
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(value.to_string().as_bytes());
    out.extend_from_slice(b"\n\n");
}

impl DataEvents for MessagesToChatStream {
    fn lines(&mut self) -> &mut SseLines {
        &mut self.lines
    }

    fn on_data(&mut self, data: &[u8], out: &mut BytesMut) {
        self.event(data, out);
    }
}

impl StreamTranslator for MessagesToChatStream {
    fn feed(&mut self, chunk: &[u8], out: &mut BytesMut) -> Result<(), String> {
        self.read(chunk, out)
    }

    fn finish(&mut self, out: &mut BytesMut) {
        self.read_rest(out);
    }

    fn usage(&self) -> Option<Usage> {
        self.usage.map(|u| u.to_usage())
    }

    fn generated_tokens(&self) -> i64 {
        self.generated.tokens()
    }

    fn completed(&self) -> bool {
        self.done && !self.failed
    }
}

#[cfg(test)]
mod tests;
