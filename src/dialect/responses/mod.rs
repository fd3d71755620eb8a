//! OpenAI's Responses API (`/v1/responses`), the gateway's third dialect.
//!
//! - the client side: `client.rs` decodes a Responses request (instructions, input items,
//!   tools with `custom` and `namespace` tools, `reasoning`, `text.format`) into the core;
//!   `output.rs` encodes a core answer as a response object (output items, status, usage);
//!   `events.rs` writes core stream events as Responses stream events with
//!   `sequence_number`.
//! - `upstream.rs`: the upstream side for providers that speak it natively: their stream
//!   events read into the core (usage, generated text, the final response object kept for
//!   storing), their whole answers read for usage.
//!
//! `Context` is what one call's client side must know beyond the request body: the
//! response's id and time, which function names stand for `custom` or namespaced tools,
//! and the request's parameters a response object echoes.

pub mod client;
pub mod events;
mod forwarded;
pub mod output;
pub mod upstream;

/// Where a reasoning item's `encrypted_content` came from a Claude thinking signature
/// (so that it goes back to Claude, and nowhere else).
pub const SIGNATURE_PREFIX: &str = "gz-claude:";

use rand::RngCore;
use serde_json::{Map, Value};

/// The name of a stored response (or one of its items): a prefix and 96 random bits.
pub fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{prefix}_{}", hex::encode(bytes))
}

/// One Responses call's client-side facts, decided when the request is read.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The response's id (`resp_…`) when the gateway writes the response (translated
    /// calls); a native upstream names its own.
    pub id: String,
    /// Seconds since the epoch.
    pub created_at: i64,
    /// The model as the client asked for it.
    pub model: String,
    /// Function names that stand for `custom` (free-form) tools: their one `input`
    /// argument goes back as a `custom_tool_call`'s input.
    pub custom_tools: Vec<String>,
    /// Function names that stand for a tool inside a `namespace` tool: (name, namespace).
    pub namespaced: Vec<(String, String)>,
    /// The request's parameters a response object repeats (`instructions`, `tools`,
    /// `tool_choice`, `temperature`, `top_p`, `max_output_tokens`, `previous_response_id`,
    /// `reasoning`, `text`, `truncation`, `metadata`, `user`, `store`,
    /// `parallel_tool_calls`).
    pub echo: Map<String, Value>,
    /// Whether the response is kept for `previous_response_id` and `GET` (default true).
    pub store: bool,
    /// The previous response this call continues, if any.
    pub previous_response_id: Option<String>,
    /// This request's own input as the client wrote it (a string or an array of items;
    /// empty when nothing is stored): turned into stored items only when the response is
    /// kept (`stored_input`).
    pub input: String,
}

impl Context {
    pub fn is_custom(&self, name: &str) -> bool {
        self.custom_tools.iter().any(|n| n == name)
    }

    pub fn namespace_of(&self, name: &str) -> Option<&str> {
        self.namespaced
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, ns)| ns.as_str())
    }
}

/// A user message item of one text (what a string `input` stands for).
pub fn user_message(text: &str) -> Value {
    serde_json::json!({"type": "message", "role": "user",
        "content": [{"type": "input_text", "text": text}]})
}

/// A call's own input as stored (what `input_items` lists and a chain sends again): its
/// items, each with an id; where the call was translated (`translated`), only what the
/// translation read and sent upstream — not what it dropped (an item's unknown fields,
/// reasoning the other provider cannot take).
pub fn stored_input(input: &str, translated_to: Option<crate::core::endpoint::Dialect>) -> String {
    let items: Vec<Value> = match serde_json::from_str::<Value>(input) {
        Ok(Value::String(text)) => vec![user_message(&text)],
        Ok(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    let stored: Vec<Value> = items
        .into_iter()
        .filter_map(|item| {
            let mut map = match item {
                Value::Object(map) => map,
                _ => return None,
            };
            if !map.contains_key("type") && map.contains_key("role") {
                map.insert("type".into(), Value::from("message"));
            }
            if let Some(to) = translated_to {
                map = forwarded::item(map, to)?;
            }
            if !map.contains_key("id") {
                map.insert("id".into(), Value::from(new_id("msg")));
            }
            Some(Value::Object(map))
        })
        .collect();
    serde_json::to_string(&stored).unwrap_or_else(|_| "[]".into())
}

/// An output item of a response as an input item of the next call (for a chain continued
/// with `previous_response_id`): the same shape, minus what only outputs carry — and minus
/// item ids, which an upstream would take for references to items it stored (only a
/// reasoning item keeps its id, which OpenAI pairs with its encrypted content).
pub fn as_input_item(item: &Value) -> Option<Value> {
    let mut item = item.as_object()?.clone();
    match item.get("type").and_then(Value::as_str)? {
        "message" | "function_call" | "custom_tool_call" => {
            item.remove("status");
            item.remove("id");
            Some(Value::Object(item))
        }
        "reasoning" => {
            item.remove("status");
            Some(Value::Object(item))
        }
        _ => None,
    }
}

/// A stored input item as sent again: without the id the gateway gave it.
pub fn resent_input_item(item: &Value) -> Value {
    let mut item = item.clone();
    if let Some(map) = item.as_object_mut() {
        map.remove("id");
    }
    item
}
