//! Anthropic Messages shapes, as far as the mappers read or write them. Content blocks
//! the gateway does not interpret stay `Value`s, so nothing is lost passing them on.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::core::reply::StopReason;
use crate::core::usage::Usage;

/// The `anthropic-version` header sent to Anthropic upstreams.
pub const API_VERSION: &str = "2023-06-01";

/// A Messages request: read from Anthropic-speaking clients, written to Anthropic
/// upstreams.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MessagesRequest {
    pub model: String,
    pub max_tokens: i64,
    pub messages: Vec<Message>,
    /// A string or a list of text blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<ToolDef>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A turn: `content` is a string or a list of content blocks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Message {
    pub role: String,
    pub content: Value,
}

/// A tool: the client's own (no type, or `custom`) or a server tool
/// (`web_search_20250305`, …, with its own settings in `extra`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolDef {
    pub name: String,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A whole answer.
#[derive(Debug, Clone, Deserialize)]
pub struct MessagesResponse {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub content: Vec<Block>,
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub usage: Option<AnthropicUsage>,
}

/// A content block of an answer; kinds the gateway does not read are `Other`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    Thinking {
        #[serde(default)]
        thinking: String,
        #[serde(default)]
        signature: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
pub struct AnthropicUsage {
    #[serde(default)]
    pub input_tokens: i64,
    #[serde(default)]
    pub output_tokens: i64,
    #[serde(default)]
    pub cache_creation_input_tokens: Option<i64>,
    #[serde(default)]
    pub cache_read_input_tokens: Option<i64>,
    /// The writes by time to live (`ephemeral_5m_input_tokens`, `ephemeral_1h_input_tokens`).
    #[serde(default)]
    pub cache_creation: Option<CacheCreation>,
    #[serde(default)]
    pub server_tool_use: Option<ServerToolUse>,
    #[serde(default, deserialize_with = "tier")]
    pub service_tier: Option<crate::core::usage::ServiceTier>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
pub struct CacheCreation {
    #[serde(default)]
    pub ephemeral_5m_input_tokens: i64,
    #[serde(default)]
    pub ephemeral_1h_input_tokens: i64,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
pub struct ServerToolUse {
    #[serde(default)]
    pub web_search_requests: i64,
}

fn tier<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<crate::core::usage::ServiceTier>, D::Error> {
    let name: Option<String> = Option::deserialize(d).unwrap_or(None);
    Ok(name.map(|n| crate::core::usage::ServiceTier::parse(&n)))
}

impl AnthropicUsage {
    /// A later report (a stream's `message_delta`) over this one: what it names wins.
    pub fn merged(self, later: AnthropicUsage) -> AnthropicUsage {
        AnthropicUsage {
            input_tokens: if later.input_tokens > 0 {
                later.input_tokens
            } else {
                self.input_tokens
            },
            output_tokens: later.output_tokens,
            cache_creation_input_tokens: later
                .cache_creation_input_tokens
                .or(self.cache_creation_input_tokens),
            cache_read_input_tokens: later
                .cache_read_input_tokens
                .or(self.cache_read_input_tokens),
            cache_creation: later.cache_creation.or(self.cache_creation),
            server_tool_use: later.server_tool_use.or(self.server_tool_use),
            service_tier: later.service_tier.or(self.service_tier),
        }
    }
}

impl AnthropicUsage {
    /// The gateway's usage: prompt tokens include cache reads and writes (Anthropic counts
    /// them apart from `input_tokens`).
    pub fn to_usage(self) -> crate::core::usage::Usage {
        let read = self.cache_read_input_tokens.unwrap_or(0).max(0);
        let split = self.cache_creation.unwrap_or_default();
        let (five, hour) = (
            split.ephemeral_5m_input_tokens.max(0),
            split.ephemeral_1h_input_tokens.max(0),
        );
        let write = self
            .cache_creation_input_tokens
            .unwrap_or(0)
            .max(0)
            .max(five.saturating_add(hour));
        let prompt = self
            .input_tokens
            .max(0)
            .saturating_add(read)
            .saturating_add(write);
        let completion = self.output_tokens.max(0);
        crate::core::usage::Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt.saturating_add(completion),
            cached_tokens: read,
            cache_write_tokens: write,
            cache_write_1h_tokens: hour.min(write),
            reasoning_tokens: 0,
            web_search_requests: self
                .server_tool_use
                .map_or(0, |s| s.web_search_requests.clamp(0, 100_000)),
            service_tier: self.service_tier.unwrap_or_default(),
            ..crate::core::usage::Usage::default()
        }
    }
}

/// One streamed event (the `data:` payload; its `type` names it).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    MessageStart {
        message: StartMessage,
    },
    ContentBlockStart {
        index: usize,
        content_block: Value,
    },
    ContentBlockDelta {
        index: usize,
        delta: Delta,
    },
    ContentBlockStop {
        index: usize,
    },
    MessageDelta {
        #[serde(default)]
        delta: MessageDeltaBody,
        #[serde(default)]
        usage: Option<AnthropicUsage>,
    },
    MessageStop,
    Ping,
    Error {
        error: Value,
    },
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StartMessage {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub usage: Option<AnthropicUsage>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Delta {
    TextDelta {
        text: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    ThinkingDelta {
        thinking: String,
    },
    SignatureDelta {
        signature: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct MessageDeltaBody {
    #[serde(default)]
    pub stop_reason: Option<String>,
}

/// Why generation stopped, from Anthropic's `stop_reason`.
pub fn stop_reason(stop: &str) -> StopReason {
    match stop {
        "max_tokens" | "model_context_window_exceeded" => StopReason::MaxTokens,
        "tool_use" => StopReason::ToolUse,
        "refusal" => StopReason::Refusal,
        "stop_sequence" => StopReason::StopSequence,
        _ => StopReason::EndTurn,
    }
}

/// Anthropic's `stop_reason` for why generation stopped.
pub fn stop_reason_name(stop: StopReason) -> &'static str {
    match stop {
        StopReason::EndTurn => "end_turn",
        StopReason::StopSequence => "stop_sequence",
        StopReason::MaxTokens => "max_tokens",
        StopReason::ToolUse => "tool_use",
        StopReason::Refusal => "refusal",
    }
}

/// Anthropic's usage object for the gateway's usage (input excludes cache reads and
/// writes, which Anthropic counts apart).
pub fn usage_object(u: &Usage) -> Value {
    json!({
        "input_tokens": (u.prompt_tokens - u.cached_tokens - u.cache_write_tokens).max(0),
        "output_tokens": u.completion_tokens,
        "cache_read_input_tokens": u.cached_tokens,
        "cache_creation_input_tokens": u.cache_write_tokens,
    })
}
