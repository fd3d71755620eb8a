//! An Anthropic-speaking client (the Anthropic SDK, Claude Code) in front of an
//! OpenAI-compatible upstream: Messages requests become Chat Completions requests, and Chat
//! Completions answers (whole or streamed, chunk by chunk) become Messages answers and
//! Anthropic's exact event sequence.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::core::usage::Usage;
use crate::core::usage::{OpenAiUsage, TextEstimate};
use crate::error::ApiError;

/// The parts of a Messages request that translation reads.
#[derive(Debug, Clone, Deserialize)]
pub struct MessagesIn {
    pub model: String,
    pub max_tokens: i64,
    pub messages: Vec<MessageIn>,
    #[serde(default)]
    pub system: Option<Value>,
    #[serde(default)]
    pub stop_sequences: Option<Vec<String>>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub tools: Option<Vec<ToolIn>>,
    #[serde(default)]
    pub tool_choice: Option<Value>,
    #[serde(default)]
    pub metadata: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MessageIn {
    pub role: String,
    pub content: Value,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ToolIn {
    pub name: String,
    /// Server tools (`web_search_20250305`, …) have a type; client tools none or `custom`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub input_schema: Option<Value>,
}

/// The text of a string or of a list of blocks' `text`s.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn blocks_of(content: &Value) -> Vec<Value> {
    match content {
        Value::String(s) => vec![json!({"type": "text", "text": s})],
        Value::Array(blocks) => blocks.clone(),
        _ => Vec::new(),
    }
}

/// An image block's source as an OpenAI image URL.
fn image_url(source: &Value) -> Result<String, ApiError> {
    match source["type"].as_str() {
        Some("base64") => Ok(format!(
            "data:{};base64,{}",
            source["media_type"].as_str().unwrap_or("image/png"),
            source["data"].as_str().unwrap_or("")
        )),
        Some("url") => Ok(source["url"].as_str().unwrap_or("").to_string()),
        _ => Err(ApiError::invalid_param(
            "messages",
            "image source must be base64 or url",
        )),
    }
}

/// A content block's `type`, which every block must have.
fn block_type(block: &Value) -> Result<&str, ApiError> {
    block["type"]
        .as_str()
        .ok_or_else(|| ApiError::invalid_param("messages", "a content block has no 'type'"))
}

/// A 400 naming a block type that an OpenAI-type provider cannot be given.
fn untranslatable(kind: &str) -> ApiError {
    ApiError::invalid_param(
        "messages",
        format!(
            "content block type '{}' cannot be sent to an OpenAI-compatible provider: it is \
             Anthropic's own (server tools, containers) or unknown; route this model to an \
             Anthropic provider, or leave the block out",
            crate::core::text::truncate(kind, 60)
        ),
    )
}

/// One block of a user turn: content parts of the user message, or (tool results) `tool`
/// messages that must come before it.
fn user_block(
    block: &Value,
    parts: &mut Vec<Value>,
    messages: &mut Vec<Value>,
) -> Result<(), ApiError> {
    match block_type(block)? {
        "text" => parts.push(json!({"type": "text", "text": block["text"]})),
        "image" => parts.push(json!({"type": "image_url",
            "image_url": {"url": image_url(&block["source"])?}})),
        // Tool results answer the assistant's tool calls: they come first, as `tool`
        // messages.
        "tool_result" => messages.push(json!({"role": "tool",
            "tool_call_id": block["tool_use_id"],
            "content": text_of(&block["content"])})),
        "document" => parts.push(document_part(block)?),
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
            parts.push(json!({"type": "text", "text": text}));
        }
        "thinking" | "redacted_thinking" => {}
        other => return Err(untranslatable(other)),
    }
    Ok(())
}

/// A `document` block as a Chat Completions content part: plain-text and content-block
/// documents as text, base64 PDFs as a `file` part; URL and file-id sources cannot be
/// fetched for an OpenAI-type provider.
fn document_part(block: &Value) -> Result<Value, ApiError> {
    let source = &block["source"];
    let title = block["title"]
        .as_str()
        .map(|t| format!("{t}\n"))
        .unwrap_or_default();
    match source["type"].as_str() {
        Some("text") => Ok(json!({"type": "text",
            "text": format!("{title}{}", source["data"].as_str().unwrap_or(""))})),
        Some("content") => Ok(json!({"type": "text",
            "text": format!("{title}{}", text_of(&source["content"]))})),
        Some("base64") => {
            let media = source["media_type"].as_str().unwrap_or("application/pdf");
            Ok(json!({"type": "file", "file": {
                "filename": block["title"].as_str().unwrap_or("document.pdf"),
                "file_data": format!("data:{media};base64,{}", source["data"].as_str().unwrap_or(""))}}))
        }
        other => Err(ApiError::invalid_param(
            "messages",
            format!(
                "a document with a '{}' source cannot be sent to an OpenAI-compatible provider \
                 (send it as base64 or text)",
                other.unwrap_or("missing")
            ),
        )),
    }
}

/// The Chat Completions body for a Messages request. `cap_field` is where the upstream
/// reads the completion cap; `max_tokens` is what the gateway decided.
pub fn request(
    req: &MessagesIn,
    model: &str,
    max_tokens: i64,
    cap_field: &str,
    stream: bool,
) -> Result<Value, ApiError> {
    let mut messages = Vec::new();
    if let Some(system) = &req.system {
        let text = text_of(system);
        if !text.is_empty() {
            messages.push(json!({"role": "system", "content": text}));
        }
    }
    for m in &req.messages {
        match m.role.as_str() {
            // Claude Code sends `system` entries inside `messages` too.
            "system" => {
                let text = text_of(&m.content);
                if !text.is_empty() {
                    messages.push(json!({"role": "system", "content": text}));
                }
            }
            "user" => {
                let mut parts = Vec::new();
                for block in blocks_of(&m.content) {
                    user_block(&block, &mut parts, &mut messages)?;
                }
                if !parts.is_empty() {
                    let content = if parts.iter().all(|p| p["type"] == "text") {
                        Value::String(
                            parts
                                .iter()
                                .filter_map(|p| p["text"].as_str())
                                .collect::<Vec<_>>()
                                .join("\n"),
                        )
                    } else {
                        Value::Array(parts)
                    };
                    messages.push(json!({"role": "user", "content": content}));
                }
            }
            "assistant" => {
                let mut text = String::new();
                let mut calls = Vec::new();
                for block in blocks_of(&m.content) {
                    match block_type(&block)? {
                        "text" => text.push_str(block["text"].as_str().unwrap_or("")),
                        "tool_use" => calls.push(json!({"id": block["id"], "type": "function",
                            "function": {"name": block["name"],
                                "arguments": block["input"].to_string()}})),
                        // Reasoning is Anthropic's to read back (signed or encrypted); an
                        // OpenAI-type model takes none in its input.
                        "thinking" | "redacted_thinking" => {}
                        other => return Err(untranslatable(other)),
                    }
                }
                let mut message = json!({"role": "assistant",
                    "content": if text.is_empty() { Value::Null } else { Value::String(text) }});
                if !calls.is_empty() {
                    message["tool_calls"] = Value::Array(calls);
                }
                messages.push(message);
            }
            other => {
                return Err(ApiError::invalid_param(
                    "messages",
                    format!(
                        "unknown role '{}' (user, assistant or system)",
                        crate::core::text::truncate(other, 40)
                    ),
                ))
            }
        }
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("messages".into(), Value::Array(messages));
    body.insert(cap_field.into(), json!(max_tokens));
    if let Some(stop) = &req.stop_sequences {
        body.insert("stop".into(), json!(stop));
    }
    if let Some(t) = req.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = req.top_p {
        body.insert("top_p".into(), json!(p));
    }
    if let Some(tools) = &req.tools {
        if let Some(kind) = tools
            .iter()
            .find_map(|t| t.kind.as_deref().filter(|k| *k != "custom"))
        {
            return Err(ApiError::invalid_param(
                "tools",
                format!(
                    "tool type '{}' is an Anthropic server tool, which an OpenAI-compatible \
                     provider cannot run; route this model to an Anthropic provider",
                    crate::core::text::truncate(kind, 60)
                ),
            ));
        }
        let tools: Vec<Value> = tools
            .iter()
            .map(|t| {
                json!({"type": "function", "function": {"name": t.name,
                "description": t.description.clone().unwrap_or_default(),
                "parameters": t.input_schema.clone().unwrap_or_else(|| json!({"type": "object"}))}})
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = &req.tool_choice {
        let mapped = match choice["type"].as_str() {
            Some("auto") => json!("auto"),
            Some("any") => json!("required"),
            Some("none") => json!("none"),
            Some("tool") => json!({"type": "function", "function": {"name": choice["name"]}}),
            _ => {
                return Err(ApiError::invalid_param(
                    "tool_choice",
                    "unknown tool_choice",
                ))
            }
        };
        body.insert("tool_choice".into(), mapped);
        if choice["disable_parallel_tool_use"] == true {
            body.insert("parallel_tool_calls".into(), json!(false));
        }
    }
    if let Some(user) = req.metadata.as_ref().and_then(|m| m["user_id"].as_str()) {
        body.insert("user".into(), json!(user));
    }
    if stream {
        body.insert("stream".into(), json!(true));
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Ok(Value::Object(body))
}

/// OpenAI's `finish_reason` as Anthropic's `stop_reason`.
fn stop_reason(finish: Option<&str>) -> &'static str {
    match finish {
        Some("length") => "max_tokens",
        Some("tool_calls") | Some("function_call") => "tool_use",
        Some("content_filter") => "refusal",
        _ => "end_turn",
    }
}

/// Anthropic's usage object for the gateway's usage (input excludes cache reads).
fn anthropic_usage(u: &Usage) -> Value {
    json!({
        "input_tokens": u.prompt_tokens - u.cached_tokens,
        "output_tokens": u.completion_tokens,
        "cache_read_input_tokens": u.cached_tokens,
        "cache_creation_input_tokens": 0,
    })
}

#[derive(Deserialize)]
struct ChatAnswer {
    #[serde(default)]
    id: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    choices: Vec<ChatAnswerChoice>,
    #[serde(default)]
    usage: Option<OpenAiUsage>,
}

#[derive(Deserialize)]
struct ChatAnswerChoice {
    #[serde(default)]
    message: Option<ChatAnswerMessage>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct ChatAnswerMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<Value>>,
}

/// A whole Chat Completions answer as a Messages answer, with its usage and an estimate of
/// what it generated.
pub fn response(body: &[u8]) -> Result<(Value, Option<Usage>, i64), String> {
    let answer: ChatAnswer =
        serde_json::from_slice(body).map_err(|e| format!("unreadable chat answer: {e}"))?;
    let usage = answer.usage.map(Usage::from);
    let mut generated = TextEstimate::default();
    let mut content = Vec::new();
    let choice = answer.choices.first();
    if let Some(message) = choice.and_then(|c| c.message.as_ref()) {
        if let Some(thinking) = message
            .reasoning_content
            .as_deref()
            .filter(|t| !t.is_empty())
        {
            generated.add(thinking);
            content.push(json!({"type": "thinking", "thinking": thinking, "signature": ""}));
        }
        if let Some(text) = message.content.as_deref().filter(|t| !t.is_empty()) {
            generated.add(text);
            content.push(json!({"type": "text", "text": text}));
        }
        for call in message.tool_calls.iter().flatten() {
            let arguments = call["function"]["arguments"].as_str().unwrap_or("{}");
            generated.add(arguments);
            let input: Value = serde_json::from_str(arguments).unwrap_or_else(|_| json!({}));
            content.push(json!({"type": "tool_use", "id": call["id"],
                "name": call["function"]["name"], "input": input}));
        }
    }
    let u = usage.unwrap_or_default();
    let message = json!({
        "id": format!("msg_{}", answer.id),
        "type": "message",
        "role": "assistant",
        "model": answer.model,
        "content": content,
        "stop_reason": stop_reason(choice.and_then(|c| c.finish_reason.as_deref())),
        "stop_sequence": null,
        "usage": anthropic_usage(&u),
    });
    Ok((message, usage, generated.tokens()))
}

mod stream;
pub use stream::ChatToMessagesStream;

#[cfg(test)]
mod tests;
