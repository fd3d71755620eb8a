//! OpenAI Chat Completions shapes, as far as the mappers read or write them. Fields the
//! gateway does not know are kept in `extra`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::core::reply::StopReason;
use crate::core::usage::{OpenAiUsage, TextEstimate, Usage};

/// A Chat Completions request: read from OpenAI-speaking clients, written to
/// OpenAI-compatible upstreams.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<ChatTool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    /// `null` is written for an assistant turn that only calls tools.
    #[serde(default)]
    pub content: Option<ChatContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ChatToolCall>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ChatContent {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContentPart {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<ImageUrl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FilePart>,
    /// `cache_control` and whatever else the part carries.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageUrl {
    pub url: String,
}

/// A `file` part: a document inline (`file_data`, a data: URL) or uploaded (`file_id`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FilePart {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatToolCall {
    #[serde(default)]
    pub id: String,
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    pub function: FunctionCall,
}

fn function_type() -> String {
    "function".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FunctionCall {
    pub name: String,
    #[serde(default)]
    pub arguments: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatTool {
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    pub function: FunctionDef,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FunctionDef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
}

/// A whole answer, as the gateway writes it for a translated call.
#[derive(Debug, Clone, Serialize)]
pub struct ChatCompletion {
    pub id: String,
    pub object: &'static str,
    pub created: i64,
    pub model: String,
    pub choices: Vec<Choice>,
    pub usage: ChatUsage,
}

#[derive(Debug, Clone, Serialize)]
pub struct Choice {
    pub index: u32,
    pub message: AnswerMessage,
    pub finish_reason: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AnswerMessage {
    pub role: &'static str,
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ChatToolCall>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChatUsage {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub prompt_tokens_details: PromptDetails,
    /// Anthropic's cache writes, which OpenAI has no field for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PromptDetails {
    pub cached_tokens: i64,
}

impl ChatUsage {
    /// The gateway's usage in OpenAI's shape.
    pub fn of(u: &Usage) -> ChatUsage {
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
}

/// OpenAI's `finish_reason` for why generation stopped.
pub fn finish_reason(stop: StopReason) -> &'static str {
    match stop {
        StopReason::MaxTokens => "length",
        StopReason::ToolUse => "tool_calls",
        StopReason::Refusal => "content_filter",
        StopReason::EndTurn | StopReason::StopSequence => "stop",
    }
}

/// Why generation stopped, from OpenAI's `finish_reason`.
pub fn stop_reason(finish: &str) -> StopReason {
    match finish {
        "length" => StopReason::MaxTokens,
        "tool_calls" | "function_call" => StopReason::ToolUse,
        "content_filter" => StopReason::Refusal,
        _ => StopReason::EndTurn,
    }
}

/// A Chat Completions answer or stream chunk as upstreams send it, read tolerantly (every
/// field optional): the one definition that metering, estimates and the translation to
/// Anthropic's events read.
#[derive(Deserialize, Default)]
pub struct ChunkIn {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub choices: Option<Vec<ChoiceIn>>,
    #[serde(default)]
    pub usage: Option<OpenAiUsage>,
    /// The tier the answer was served at (`default`, `flex`, `priority`, …).
    #[serde(default)]
    pub service_tier: Option<String>,
    /// An error reported inside a stream.
    #[serde(default)]
    pub error: Option<Value>,
}

impl ChunkIn {
    /// Its usage (taken out), with the service tier the answer names.
    pub fn take_usage(&mut self) -> Option<crate::core::usage::Usage> {
        let tier = self.service_tier.as_deref();
        self.usage.take().map(|u| u.billed(tier))
    }
}

/// One choice: a stream's `delta` or a whole answer's `message`.
#[derive(Deserialize)]
pub struct ChoiceIn {
    #[serde(default)]
    pub delta: Option<GeneratedText>,
    #[serde(default)]
    pub message: Option<GeneratedText>,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// A streamed delta or a whole message: every field that carries generated text.
#[derive(Deserialize)]
pub struct GeneratedText {
    #[serde(default)]
    pub content: Option<Value>,
    #[serde(default)]
    pub reasoning_content: Option<String>,
    #[serde(default)]
    pub reasoning: Option<String>,
    #[serde(default)]
    pub refusal: Option<String>,
    #[serde(default)]
    pub tool_calls: Option<Vec<ToolCallIn>>,
    #[serde(default)]
    pub function_call: Option<FunctionIn>,
}

/// A tool call, whole or (streamed) in pieces by `index`.
#[derive(Deserialize)]
pub struct ToolCallIn {
    #[serde(default)]
    pub index: u64,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub function: Option<FunctionIn>,
}

#[derive(Deserialize, Default)]
pub struct FunctionIn {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub arguments: Option<String>,
}

impl GeneratedText {
    /// Adds the generated text (content, reasoning, refusal, tool calls) to `into`.
    pub fn estimate(&self, into: &mut TextEstimate) {
        match &self.content {
            Some(Value::String(text)) => into.add(text),
            // Content parts (`[{"type":"text","text":…}]`).
            Some(Value::Array(parts)) => {
                for text in parts.iter().filter_map(|p| p.get("text")?.as_str()) {
                    into.add(text);
                }
            }
            _ => {}
        }
        for text in [&self.reasoning_content, &self.reasoning, &self.refusal]
            .into_iter()
            .flatten()
        {
            into.add(text);
        }
        let calls = self
            .tool_calls
            .iter()
            .flatten()
            .filter_map(|c| c.function.as_ref());
        for function in calls.chain(self.function_call.as_ref()) {
            for text in [&function.name, &function.arguments].into_iter().flatten() {
                into.add(text);
            }
        }
    }

    /// The text content, a string or the `text` of content parts, joined.
    pub fn text_parts(&self) -> String {
        match &self.content {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Array(parts)) => parts
                .iter()
                .filter_map(|p| p.get("text")?.as_str())
                .collect(),
            _ => String::new(),
        }
    }

    /// The reasoning text, under either name upstreams use (`reasoning_content`:
    /// DeepSeek, Zhipu; `reasoning`: vLLM, OpenRouter).
    pub fn reasoning(&self) -> Option<&str> {
        self.reasoning_content
            .as_deref()
            .or(self.reasoning.as_deref())
    }
}

/// The field an OpenAI-compatible upstream reads the completion cap from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapField {
    /// DeepSeek, Zhipu and most compatible servers.
    MaxTokens,
    /// OpenAI itself (`max_tokens` is deprecated there and refused by reasoning models).
    MaxCompletionTokens,
}
