//! The Anthropic side of the mock: the Messages API, whole and streamed.

use super::*;

/// Anthropic's Messages API. Answers with a tool call when tools are offered and the last
/// user turn holds no tool result, else with text; a thinking block first when `thinking`
/// is on. `mock.cache_read` / `mock.cache_write` set the cache usage it reports.
pub(crate) async fn messages_reply(call: Call<'_>, state: &Shared) -> Reply {
    let Ok(body) = serde_json::from_slice::<Value>(call.body) else {
        return anthropic_error(400, "invalid_request_error", "invalid JSON");
    };
    let (fault, error) = arrive(state, &call, &body).await;
    if let Some((status, message)) = error {
        let kind = if status == 529 {
            "overloaded_error"
        } else {
            "api_error"
        };
        return anthropic_error(status, kind, &message);
    }
    let Some(max_tokens) = body.get("max_tokens").and_then(Value::as_u64) else {
        return anthropic_error(400, "invalid_request_error", "max_tokens: Field required");
    };
    // Like Anthropic: a thinking budget is at least 1024 and below max_tokens.
    if let Some(budget) = body
        .pointer("/thinking/budget_tokens")
        .and_then(Value::as_u64)
    {
        if budget < 1024 || budget >= max_tokens {
            return anthropic_error(
                400,
                "invalid_request_error",
                "`max_tokens` must be greater than `thinking.budget_tokens`, which must be ≥ 1024",
            );
        }
    }
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("claude-mock");
    let natural = body
        .pointer("/mock/default_tokens")
        .and_then(Value::as_u64)
        .or_else(|| crate::openai::long_model(&body))
        .unwrap_or(8);
    let n = natural.min(max_tokens).clamp(1, 100_000) as usize;
    let messages = body.get("messages").and_then(Value::as_array);
    let last_has_result = messages
        .and_then(|m| m.last())
        .and_then(|m| m["content"].as_array())
        .is_some_and(|blocks| blocks.iter().any(|b| b["type"] == "tool_result"));
    let offered: Vec<&str> = body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("name").and_then(Value::as_str))
        .collect();
    let tool = crate::scripted_tool(fault.as_ref(), &offered).filter(|_| !last_has_result);
    let mut blocks = Vec::new();
    if body.get("thinking").is_some() {
        blocks.push(
            json!({"type": "thinking", "thinking": "Let me think.", "signature": "mock-sig"}),
        );
    }
    let (stop_reason, output) = match tool {
        Some((name, input)) => {
            blocks.push(
                json!({"type": "tool_use", "id": "toolu_mock_1", "name": name, "input": input}),
            );
            ("tool_use", 12)
        }
        None => {
            let text: String = (0..n).map(|i| format!("tok{i} ")).collect();
            blocks.push(json!({"type": "text", "text": text}));
            (
                if (n as u64) < natural {
                    "max_tokens"
                } else {
                    "end_turn"
                },
                n as i64,
            )
        }
    };
    let chars: usize = messages
        .map(|m| m.iter().map(|m| m["content"].to_string().len()).sum())
        .unwrap_or(0);
    let usage = json!({
        "input_tokens": if crate::worst_case::applies(&body) {
            crate::worst_case::prompt_tokens(&body)
        } else {
            (chars / 4 + 1) as i64
        },
        "output_tokens": output,
        "cache_read_input_tokens": body.pointer("/mock/cache_read").and_then(Value::as_i64).unwrap_or(0),
        "cache_creation_input_tokens": body.pointer("/mock/cache_write").and_then(Value::as_i64).unwrap_or(0),
    });
    let billed = crate::billed::applies(&body).then(|| crate::billed::anthropic(output));
    let usage = billed.as_ref().map_or(usage, |b| b.0.clone());
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    if !stream {
        return Reply::json(
            200,
            json!({"id": "msg_mock", "type": "message", "role": "assistant", "model": model,
                "content": blocks, "stop_reason": stop_reason, "stop_sequence": null,
                "usage": usage}),
        );
    }
    let event = |name: &str, data: Value| Bytes::from(format!("event: {name}\ndata: {data}\n\n"));
    let mut start_usage = usage.clone();
    start_usage["output_tokens"] = json!(1);
    if let Some((_, start, _)) = &billed {
        start_usage = start.clone();
    }
    let delta_usage = billed
        .as_ref()
        .map_or_else(|| json!({"output_tokens": output}), |b| b.2.clone());
    let mut events = vec![event(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_mock", "type": "message",
            "role": "assistant", "model": model, "content": [], "stop_reason": null,
            "stop_sequence": null, "usage": start_usage}}),
    )];
    events.push(event("ping", json!({"type": "ping"})));
    for (index, block) in blocks.iter().enumerate() {
        let (start, deltas): (Value, Vec<Value>) = match block["type"].as_str() {
            Some("thinking") => (
                json!({"type": "thinking", "thinking": ""}),
                vec![
                    json!({"type": "thinking_delta", "thinking": block["thinking"]}),
                    json!({"type": "signature_delta", "signature": block["signature"]}),
                ],
            ),
            Some("tool_use") => {
                let input = block["input"].to_string();
                let (a, b) = input.split_at(crate::half(&input));
                (
                    json!({"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}),
                    vec![
                        json!({"type": "input_json_delta", "partial_json": a}),
                        json!({"type": "input_json_delta", "partial_json": b}),
                    ],
                )
            }
            _ => (
                json!({"type": "text", "text": ""}),
                (0..n)
                    .map(|i| json!({"type": "text_delta", "text": format!("tok{i} ")}))
                    .collect(),
            ),
        };
        events.push(event(
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": start}),
        ));
        for delta in deltas {
            events.push(event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index, "delta": delta}),
            ));
        }
        events.push(event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
    }
    events.push(event(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null},
            "usage": delta_usage}),
    ));
    events.push(event("message_stop", json!({"type": "message_stop"})));
    Reply::sse(events, fault.as_ref(), &body)
}

pub(crate) fn anthropic_error(status: u16, kind: &str, message: &str) -> Reply {
    Reply::json(
        status,
        json!({"type": "error", "error": {"type": kind, "message": message}}),
    )
}
