//! Models whose name ends in `-billed` report every class the providers bill, as they
//! report it (it survives translation, which drops a body's `mock` options): Anthropic
//! 1,000 fresh input tokens, 2,000 cache reads, 4,000 5-minute and 6,000 1-hour cache
//! writes and 3 web searches (split between `message_start` and `message_delta` in a
//! stream, as Anthropic does); OpenAI 12,000 prompt tokens of which 2,000 cached and
//! 1,000 audio, 100 reasoning tokens inside the completion, served at the `flex` tier; a native Responses
//! answer 12,000 input tokens (2,000 cached), two `web_search_call` items, `priority`.

use serde_json::{json, Value};

pub(crate) fn applies(body: &Value) -> bool {
    body.get("model")
        .and_then(Value::as_str)
        .is_some_and(|m| m.ends_with("-billed"))
}

/// Anthropic's usage for a message with `output` tokens: (the whole, `message_start`'s,
/// `message_delta`'s).
pub(crate) fn anthropic(output: i64) -> (Value, Value, Value) {
    let whole = json!({"input_tokens": 1000, "output_tokens": output,
        "cache_read_input_tokens": 2000, "cache_creation_input_tokens": 10_000,
        "cache_creation": {"ephemeral_5m_input_tokens": 4000, "ephemeral_1h_input_tokens": 6000},
        "server_tool_use": {"web_search_requests": 3}, "service_tier": "standard"});
    let start = json!({"input_tokens": 1000, "output_tokens": 1,
        "cache_read_input_tokens": 2000, "cache_creation_input_tokens": 10_000,
        "cache_creation": {"ephemeral_5m_input_tokens": 4000, "ephemeral_1h_input_tokens": 6000},
        "service_tier": "standard"});
    let delta = json!({"output_tokens": output, "server_tool_use": {"web_search_requests": 3}});
    (whole, start, delta)
}

/// OpenAI's usage for `completion` tokens (the answer's `service_tier` goes beside it).
pub(crate) fn openai(completion: i64) -> Value {
    json!({"prompt_tokens": 12_000, "completion_tokens": completion,
        "total_tokens": 12_000 + completion,
        "prompt_tokens_details": {"cached_tokens": 2000, "audio_tokens": 1000},
        "completion_tokens_details": {"reasoning_tokens": 100.min(completion)}})
}

/// A native Responses answer's usage, tier and extra output items.
pub(crate) fn responses(completion: i64) -> (Value, Vec<Value>) {
    let usage = json!({"input_tokens": 12_000, "input_tokens_details": {"cached_tokens": 2000},
        "output_tokens": completion, "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 12_000 + completion});
    let searches = (1..=2)
        .map(|i| {
            json!({"id": format!("ws_mock_{i}"), "type": "web_search_call",
            "status": "completed", "action": {"type": "search", "query": "mock"}})
        })
        .collect();
    (usage, searches)
}
