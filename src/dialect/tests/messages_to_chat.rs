//! An Anthropic-speaking client (the SDK, Claude Code) in front of an OpenAI-compatible
//! upstream.

use bytes::BytesMut;
use serde_json::{json, Value};

use super::*;
use crate::core::stream::StreamTranslator;

fn parse(body: Value) -> Value {
    body
}

fn request(
    req: &Value,
    model: &str,
    max_tokens: i64,
    cap_field: CapField,
    stream: bool,
) -> Result<Value, crate::error::ApiError> {
    messages_to_chat_request(req, model, max_tokens, cap_field, stream)
}

fn response(body: &[u8]) -> Result<(Value, Option<Usage>, i64), String> {
    chat_to_messages_answer(body)
}

#[test]
fn requests_with_system_images_tools_and_results() {
    let req = parse(json!({
        "model": "gpt-4o", "max_tokens": 1024,
        "system": [{"type": "text", "text": "Be terse.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "Weather here?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/"}}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "18C"}]},
                {"type": "text", "text": "And tomorrow?"}]}
        ],
        "tools": [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
        "stop_sequences": ["END"],
        "metadata": {"user_id": "u-1"},
        "stream": true
    }));
    let body = request(&req, "gpt-4o", 1024, CapField::MaxCompletionTokens, true).unwrap();
    let m = body["messages"].as_array().unwrap();
    assert_eq!(m[0], json!({"role": "system", "content": "Be terse."}));
    assert_eq!(
        m[1]["content"][1]["image_url"]["url"],
        "data:image/jpeg;base64,/9j/"
    );
    assert_eq!(m[2]["content"], "Checking.");
    assert_eq!(
        m[2]["tool_calls"][0]["function"]["arguments"],
        "{\"city\":\"Paris\"}"
    );
    assert_eq!(
        m[3],
        json!({"role": "tool", "tool_call_id": "toolu_1", "content": "18C"})
    );
    assert_eq!(m[4], json!({"role": "user", "content": "And tomorrow?"}));
    assert_eq!(body["max_completion_tokens"], 1024);
    assert_eq!(body["tool_choice"], "required");
    assert_eq!(body["parallel_tool_calls"], false);
    assert_eq!(body["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(body["stop"], json!(["END"]));
    assert_eq!(body["user"], "u-1");
    assert_eq!(body["stream_options"]["include_usage"], true);
}

#[test]
fn whole_answers_become_messages() {
    let answer = json!({"id": "chatcmpl-1", "object": "chat.completion", "model": "deepseek-reasoner",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant",
            "content": "Let me look.", "reasoning_content": "User wants weather.",
            "tool_calls": [{"id": "call_1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}}],
        "usage": {"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42,
                  "prompt_cache_hit_tokens": 10}});
    let (message, usage, _) = response(answer.to_string().as_bytes()).unwrap();
    assert_eq!(message["type"], "message");
    assert_eq!(message["stop_reason"], "tool_use");
    assert_eq!(
        message["content"][0],
        json!({"type": "thinking", "thinking": "User wants weather.", "signature": ""})
    );
    assert_eq!(
        message["content"][1],
        json!({"type": "text", "text": "Let me look."})
    );
    assert_eq!(message["content"][2]["input"], json!({"city": "Paris"}));
    assert_eq!(message["usage"]["input_tokens"], 20);
    assert_eq!(message["usage"]["cache_read_input_tokens"], 10);
    assert_eq!(usage.unwrap().cached_tokens, 10);
}

const CHUNKS: &str = concat!(
    "data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"reasoning_content\":\"Hm\"}}]}\n\n",
    "data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi \"}}]}\n\n",
    "data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"there\"}}]}\n\n",
    "data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}}]}\n\n",
    "data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]}}]}\n\n",
    "data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]}}]}\n\n",
    "data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
    "data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":7,\"total_tokens\":16}}\n\n",
    "data: [DONE]\n\n",
);

#[test]
fn streams_become_anthropic_events_in_order() {
    for split in [1, 9, 100_000] {
        let mut t = chat_to_messages_stream(1 << 20);
        let mut out = BytesMut::new();
        for piece in CHUNKS.as_bytes().chunks(split) {
            t.feed(piece, &mut out).unwrap();
        }
        t.finish(&mut out);
        let text = String::from_utf8(out.to_vec()).unwrap();
        let events: Vec<(String, Value)> = text
            .split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                let (name, data) = e.split_once('\n').unwrap();
                let name = name.strip_prefix("event: ").unwrap().to_string();
                let data: Value =
                    serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
                assert_eq!(data["type"], name.as_str());
                (name, data)
            })
            .collect();
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ],
            "split {split}"
        );
        assert_eq!(events[1].1["content_block"]["type"], "thinking");
        assert_eq!(events[4].1["index"], 1);
        assert_eq!(events[8].1["content_block"]["name"], "get_weather");
        let args: String = events[9..11]
            .iter()
            .map(|(_, e)| e["delta"]["partial_json"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            serde_json::from_str::<Value>(&args).unwrap(),
            json!({"city": "Paris"})
        );
        assert_eq!(events[12].1["delta"]["stop_reason"], "tool_use");
        assert_eq!(events[12].1["usage"]["output_tokens"], 7);
        assert_eq!(events[12].1["usage"]["input_tokens"], 9);
        assert!(t.completed());
        assert_eq!(t.usage().unwrap().total_tokens, 16);
    }
}

#[test]
fn error_chunks_become_error_events() {
    let mut t = chat_to_messages_stream(1 << 20);
    let mut out = BytesMut::new();
    t.feed(
        b"data: {\"error\":{\"message\":\"Overloaded\",\"type\":\"server_error\"}}\n\n",
        &mut out,
    )
    .unwrap();
    let text = String::from_utf8(out.to_vec()).unwrap();
    assert!(text.starts_with("event: error\ndata: {"), "{text}");
    assert!(text.contains("Overloaded"));
    assert!(!t.completed());
}

#[test]
fn a_stream_cut_before_done_is_not_completed() {
    let mut t = chat_to_messages_stream(1 << 20);
    let mut out = BytesMut::new();
    t.feed(&CHUNKS.as_bytes()[..200], &mut out).unwrap();
    t.finish(&mut out);
    assert!(!t.completed());
    assert!(!String::from_utf8_lossy(&out).contains("message_stop"));
}

#[test]
fn odd_but_valid_chunks_are_read_not_dropped() {
    // `choices: null` with the usage, non-string content parts, no id or model: the shared
    // tolerant chunk shape reads what it can (a strict one dropped the whole chunk).
    let mut t = chat_to_messages_stream(1 << 20);
    let mut out = BytesMut::new();
    let stream = concat!(
        "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":[{\"type\":\"text\",\"text\":\"x\"}]},\"finish_reason\":\"stop\"}]}\n\n",
        "data: {\"choices\":null,\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\n",
        "data: [DONE]\n\n"
    );
    t.feed(stream.as_bytes(), &mut out).unwrap();
    t.finish(&mut out);
    let text = String::from_utf8(out.to_vec()).unwrap();
    assert!(t.completed(), "{text}");
    assert_eq!(t.usage().unwrap().total_tokens, 5, "{text}");
    assert!(text.contains("\"text\":\"Hi\"") && text.contains("\"stop_reason\":\"end_turn\""));
}
