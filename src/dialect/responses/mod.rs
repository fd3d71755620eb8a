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
    /// This request's own input items (not the previous responses'), as stored.
    pub input: Vec<Value>,
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
