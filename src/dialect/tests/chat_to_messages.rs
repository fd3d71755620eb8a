//! An OpenAI-speaking client in front of an Anthropic upstream.

use bytes::BytesMut;
use serde_json::{json, Value};

use super::*;
use crate::core::stream::StreamTranslator;

fn chat(body: Value) -> Value {
    body
}

fn request(
    chat: &Value,
    model: &str,
    max_tokens: i64,
    stream: bool,
) -> Result<Value, crate::error::ApiError> {
    chat_to_messages_request(chat, model, max_tokens, stream)
}

fn response(body: &[u8], created: i64) -> Result<(Value, Option<Usage>), String> {
    messages_to_chat_answer(body, created)
}

fn translated(body: Value) -> Value {
    request(&chat(body), "claude-sonnet-4-5", 1024, false).unwrap()
}

#[test]
fn system_images_tools_and_tool_results() {
    let out = translated(json!({
        "model": "anthropic/claude-sonnet-4-5",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "developer", "content": [{"type": "text", "text": "Use metric units.",
                "cache_control": {"type": "ephemeral"}}]},
            {"role": "user", "content": [
                {"type": "text", "text": "What is in this image, and the weather?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_2", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_2", "content": "4C"},
            {"role": "user", "content": "Thanks"}
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather",
            "description": "Weather by city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
        "tool_choice": "required",
        "stop": "END",
        "temperature": 1.7,
        "user": "u-1"
    }));
    assert_eq!(
        out["system"],
        json!([{"type": "text", "text": "You are terse."},
               {"type": "text", "text": "Use metric units.", "cache_control": {"type": "ephemeral"}}])
    );
    let messages = out["messages"].as_array().unwrap();
    assert_eq!(
        messages.len(),
        3,
        "tool results and the next user turn merge: {out}"
    );
    assert_eq!(
        messages[0]["content"][1]["source"],
        json!({"type": "base64", "media_type": "image/png", "data": "iVBORw0K"})
    );
    assert_eq!(
        messages[0]["content"][2]["source"],
        json!({"type": "url", "url": "https://example.com/cat.jpg"})
    );
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(
        messages[1]["content"][0],
        json!({"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}})
    );
    assert_eq!(messages[2]["role"], "user");
    assert_eq!(
        messages[2]["content"][0],
        json!({"type": "tool_result", "tool_use_id": "call_1", "content": "18C"})
    );
    assert_eq!(messages[2]["content"][1]["tool_use_id"], "call_2");
    assert_eq!(
        messages[2]["content"][2],
        json!({"type": "text", "text": "Thanks"})
    );
    assert_eq!(
        out["tools"][0]["input_schema"]["properties"]["city"]["type"],
        "string"
    );
    assert_eq!(out["tool_choice"], json!({"type": "any"}));
    assert_eq!(out["stop_sequences"], json!(["END"]));
    assert_eq!(out["temperature"], 1.0, "clamped to Anthropic's range");
    assert_eq!(out["metadata"], json!({"user_id": "u-1"}));
    assert_eq!(out["max_tokens"], 1024);
    assert!(out.get("stream").is_none());
}

#[test]
fn tool_choice_variants_and_reasoning() {
    let base = |extra: Value| {
        let mut body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "function", "function": {"name": "f"}}]});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        translated(body)
    };
    assert_eq!(
        base(json!({"tool_choice": "auto"}))["tool_choice"],
        json!({"type": "auto"})
    );
    assert_eq!(
        base(json!({"tool_choice": "none"}))["tool_choice"],
        json!({"type": "none"})
    );
    assert_eq!(
        base(json!({"tool_choice": {"type": "function", "function": {"name": "f"}}}))
            ["tool_choice"],
        json!({"type": "tool", "name": "f"})
    );
    assert_eq!(
        base(json!({"parallel_tool_calls": false}))["tool_choice"],
        json!({"type": "auto", "disable_parallel_tool_use": true})
    );
    assert_eq!(
        base(json!({}))["tools"][0]["input_schema"],
        json!({"type": "object", "properties": {}})
    );
    let effort = chat(
        json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
        "reasoning_effort": "medium", "temperature": 0.5}),
    );
    let thinking = request(&effort, "m", 8192, false).unwrap();
    assert_eq!(
        thinking["thinking"],
        json!({"type": "enabled", "budget_tokens": 4096})
    );
    assert!(
        thinking.get("temperature").is_none(),
        "no sampling changes with thinking"
    );
    let small = request(&effort, "m", 1024, false).unwrap();
    assert!(
        small.get("thinking").is_none(),
        "a budget under 1024 cannot think: {small}"
    );
    assert_eq!(small["temperature"], 0.5);
    let bad = chat(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "tool_choice": "sometimes"}),
    );
    assert!(request(&bad, "m", 10, false).is_err());
    let bad = chat(
        json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "ftp://x"}}]}]}),
    );
    assert!(request(&bad, "m", 10, false).is_err());
}

#[test]
fn whole_answers_with_text_tools_thinking_and_cache_usage() {
    let body = json!({
        "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [
            {"type": "thinking", "thinking": "Let me check.", "signature": "sig"},
            {"type": "text", "text": "Checking the weather."},
            {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}}
        ],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 10, "output_tokens": 20,
                  "cache_creation_input_tokens": 5, "cache_read_input_tokens": 100}
    });
    let (answer, usage) = response(body.to_string().as_bytes(), 7).unwrap();
    let v = answer;
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], "Checking the weather.");
    assert_eq!(choice["message"]["reasoning_content"], "Let me check.");
    assert_eq!(choice["message"]["tool_calls"][0]["id"], "toolu_01");
    let args: Value = serde_json::from_str(
        choice["message"]["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(args, json!({"city": "Paris"}));
    assert_eq!(v["usage"]["prompt_tokens"], 115);
    assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 100);
    assert_eq!(v["usage"]["cache_creation_input_tokens"], 5);
    let usage = usage.unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.cached_tokens,
            usage.cache_write_tokens
        ),
        (115, 20, 100, 5)
    );
    for (stop, finish) in [
        ("end_turn", "stop"),
        ("max_tokens", "length"),
        ("stop_sequence", "stop"),
    ] {
        let body = json!({"content": [], "stop_reason": stop});
        let (answer, _) = response(body.to_string().as_bytes(), 0).unwrap();
        assert_eq!(answer["choices"][0]["finish_reason"], finish);
    }
}

const STREAM: &str = concat!(
    "event: message_start\n",
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5\",\"stop_reason\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1,\"cache_read_input_tokens\":3}}}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Hmm\"}}\n\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: ping\n",
    "data: {\"type\": \"ping\"}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\",\"input\":{}}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\": \"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"Paris\\\"}\"}}\n\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":2}\n\n",
    "event: message_delta\n",
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n",
    "event: message_stop\n",
    "data: {\"type\":\"message_stop\"}\n\n",
);

fn run(split: usize, usage_chunk: bool) -> (Vec<Value>, MessagesToChatStream) {
    let mut t = messages_to_chat_stream(usage_chunk, 1, 1 << 20);
    let mut out = BytesMut::new();
    for piece in STREAM.as_bytes().chunks(split) {
        t.feed(piece, &mut out).unwrap();
    }
    t.finish(&mut out);
    let text = String::from_utf8(out.to_vec()).unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    let chunks = text
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    (chunks, t)
}

#[test]
fn streams_translate_event_by_event() {
    for split in [1, 7, 64, 100_000] {
        let (chunks, t) = run(split, true);
        let deltas: Vec<&Value> = chunks
            .iter()
            .filter_map(|c| c["choices"].get(0).map(|c| &c["delta"]))
            .collect();
        assert_eq!(deltas[0]["role"], "assistant");
        assert_eq!(deltas[1]["reasoning_content"], "Hmm");
        assert_eq!(deltas[2]["content"], "Hello");
        assert_eq!(deltas[3]["tool_calls"][0]["id"], "toolu_1");
        assert_eq!(
            deltas[3]["tool_calls"][0]["function"]["name"],
            "get_weather"
        );
        // The SDK concatenates the argument pieces of index 0.
        let args: String = deltas[4..6]
            .iter()
            .map(|d| {
                assert_eq!(d["tool_calls"][0]["index"], 0);
                d["tool_calls"][0]["function"]["arguments"]
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert_eq!(
            serde_json::from_str::<Value>(&args).unwrap(),
            json!({"city": "Paris"})
        );
        let finish = chunks
            .iter()
            .find(|c| c["choices"][0]["finish_reason"].is_string())
            .unwrap();
        assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
        let usage = &chunks.last().unwrap()["usage"];
        assert_eq!(usage["prompt_tokens"], 28);
        assert_eq!(usage["completion_tokens"], 15);
        assert!(t.completed());
        assert_eq!(t.usage().unwrap().total_tokens, 43);
        assert!(chunks.iter().all(|c| c["id"] == "msg_1"));
    }
    let (chunks, _) = run(50, false);
    assert!(
        chunks.iter().all(|c| c.get("usage").is_none()),
        "no usage chunk unasked"
    );
}

#[test]
fn stream_errors_are_relayed_and_mark_the_stream_failed() {
    let mut t = messages_to_chat_stream(false, 1, 1 << 20);
    let mut out = BytesMut::new();
    let event = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
    t.feed(event.as_bytes(), &mut out).unwrap();
    let text = String::from_utf8(out.to_vec()).unwrap();
    assert!(text.contains("\"message\":\"Overloaded\""), "{text}");
    assert!(!t.completed());
}
