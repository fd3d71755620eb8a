//! The OpenAI-compatible side of the mock: chat completions (text, tool calls, a reasoner,
//! Zhipu's parameter bounds on its paths) and embeddings.

use super::*;

/// The mock's prompt count: about 4 characters a token; with `mock.count: "chars"` one
/// token a character (the worst case of digits and punctuation); with `mock.image_tokens`
/// each image part costs that many, as real upstreams count images.
pub(crate) fn prompt_tokens(body: &Value) -> i64 {
    if crate::worst_case::applies(body) {
        return crate::worst_case::prompt_tokens(body);
    }
    let per_char = body.pointer("/mock/count").and_then(Value::as_str) == Some("chars");
    let image_tokens = mock_opt(body, "image_tokens") as usize;
    let mut images = 0;
    let chars: usize = body
        .get("messages")
        .and_then(Value::as_array)
        .map(|msgs| {
            msgs.iter()
                .map(|m| match m.get("content") {
                    Some(Value::String(s)) => s.chars().count(),
                    Some(Value::Array(parts)) if image_tokens > 0 => parts
                        .iter()
                        .map(|p| match p["type"].as_str() {
                            Some("image_url") => {
                                images += image_tokens;
                                0
                            }
                            _ => p["text"].as_str().map_or(0, |t| t.chars().count()),
                        })
                        .sum(),
                    Some(other) => other.to_string().len(),
                    None => 0,
                })
                .sum()
        })
        .unwrap_or(0);
    let text = if per_char { chars } else { chars / 4 + 1 };
    (text + images) as i64
}

/// How much a "model" writes when nothing caps it: a model whose name ends in `-long`
/// writes 4096 tokens (so that budgets can be tested through translation, which drops the
/// body's `mock` options).
pub(crate) fn long_model(body: &Value) -> Option<u64> {
    body.get("model")
        .and_then(Value::as_str)
        .filter(|m| m.ends_with("-long"))
        .map(|_| 4096)
}

pub(crate) fn mock_opt(body: &Value, name: &str) -> u64 {
    body.pointer(&format!("/mock/{name}"))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// The tool the "model" calls, and its arguments: the scripted one, else the first one
/// offered — unless the last message is a tool result.
fn wanted_tool(body: &Value, fault: Option<&Fault>) -> Option<(String, Value)> {
    let answered = body
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|m| m.last())
        .is_some_and(|m| m["role"] == "tool");
    if answered {
        return None;
    }
    let offered: Vec<&str> = body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.pointer("/function/name").and_then(Value::as_str))
        .collect();
    crate::scripted_tool(fault, &offered)
}

fn include_usage_of(body: &Value) -> bool {
    body.pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// OpenAI's tool-call answer, whole or streamed (arguments in two pieces).
fn tool_call_reply(
    model: &str,
    (name, input): (String, Value),
    stream: bool,
    include_usage: bool,
    prompt: i64,
) -> Reply {
    let arguments = input.to_string();
    let arguments = arguments.as_str();
    let usage =
        json!({"prompt_tokens": prompt, "completion_tokens": 12, "total_tokens": prompt + 12});
    if !stream {
        return Reply::json(
            200,
            json!({"id": "chatcmpl-mock", "object": "chat.completion", "created": 1_700_000_000,
                "model": model, "choices": [{"index": 0, "finish_reason": "tool_calls",
                    "message": {"role": "assistant", "content": null, "tool_calls": [
                        {"id": "call_mock_1", "type": "function",
                         "function": {"name": name, "arguments": arguments}}]}}],
                "usage": usage}),
        );
    }
    let chunk = |delta: Value, finish: Value| {
        let c = json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk",
            "created": 1_700_000_000, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        Bytes::from(format!("data: {c}\n\n"))
    };
    let (a, b) = arguments.split_at(crate::half(arguments));
    let mut events = vec![
        chunk(json!({"role": "assistant", "content": null}), Value::Null),
        chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_mock_1", "type": "function",
                "function": {"name": name, "arguments": ""}}]}),
            Value::Null,
        ),
        chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": a}}]}),
            Value::Null,
        ),
        chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": b}}]}),
            Value::Null,
        ),
        chunk(json!({}), json!("tool_calls")),
    ];
    if include_usage {
        let u = json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk",
            "created": 1_700_000_000, "model": model, "choices": [], "usage": usage});
        events.push(Bytes::from(format!("data: {u}\n\n")));
    }
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    Reply {
        status: 200,
        content_type: "text/event-stream",
        parts: events,
        chunk_delay: Duration::ZERO,
        stall: Duration::ZERO,
        headers: Vec::new(),
    }
}

pub(crate) async fn chat_reply(call: Call<'_>, state: &Shared) -> Reply {
    let Ok(body) = serde_json::from_slice::<Value>(call.body) else {
        return Reply::error(400, "invalid JSON");
    };
    let (fault, error) = arrive(state, &call, &body).await;
    if let Some((status, message)) = error {
        let mut reply = Reply::error(status, &message);
        if let Some(after) = fault.as_ref().and_then(|f| f.retry_after) {
            reply.headers.push(("retry-after", after.to_string()));
        }
        return reply;
    }
    // Like Zhipu's GLM models: temperature must be in (0, 1] and top_p in (0, 1).
    if call.path.starts_with("/api/paas/v4") {
        let temperature = body.get("temperature").and_then(Value::as_f64);
        let top_p = body.get("top_p").and_then(Value::as_f64);
        if temperature.is_some_and(|t| t <= 0.0 || t > 1.0)
            || top_p.is_some_and(|p| p >= 1.0 || p <= 0.0)
        {
            return Reply::json(
                400,
                json!({"error": {"code": "1210", "message": "API 调用参数有误，请检查文档。"}}),
            );
        }
    }
    let first_delay = mock_opt(&body, "first_delay_ms");
    if first_delay > 0 {
        actix_web::rt::time::sleep(Duration::from_millis(first_delay)).await;
    }
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("mock")
        .to_string();
    // The "model" would write `mock.default_tokens` (else the client's `max_tokens`, else
    // 8); like OpenAI it stops at `max_completion_tokens`, else at `max_tokens`.
    let natural = body
        .pointer("/mock/default_tokens")
        .or_else(|| body.get("max_tokens"))
        .and_then(Value::as_u64)
        .or_else(|| long_model(&body))
        .unwrap_or(8);
    // DeepSeek (served under `/deepseek`) reads `max_tokens` only.
    let cap = if call.path.starts_with("/deepseek") {
        body.get("max_tokens")
    } else {
        body.get("max_completion_tokens")
            .or_else(|| body.get("max_tokens"))
    }
    .and_then(Value::as_u64);
    let n = cap.unwrap_or(natural).min(natural).clamp(1, 100_000) as usize;
    let finish = if cap.is_some_and(|c| c < natural) {
        "length"
    } else {
        "stop"
    };
    let choices = body
        .get("n")
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .clamp(1, 128) as usize;
    let no_usage = fault.as_ref().is_some_and(|f| f.no_usage == Some(true));
    let prompt = prompt_tokens(&body);
    // DeepSeek's reasoner: reasoning first, reasoning tokens and cache hits in its usage.
    let reasoner = model.contains("reasoner");
    let reasoning = "Thinking it over.";
    let completion = (n * choices) as i64 + if reasoner { 4 } else { 0 };
    let mut usage = json!({"prompt_tokens": prompt, "completion_tokens": completion,
        "total_tokens": prompt + completion});
    let billed = crate::billed::applies(&body);
    if billed {
        usage = crate::billed::openai(completion);
    }
    if reasoner {
        usage["completion_tokens_details"] = json!({"reasoning_tokens": 4});
        usage["prompt_cache_hit_tokens"] = json!(prompt.min(2));
        usage["prompt_cache_miss_tokens"] = json!(prompt - prompt.min(2));
    }
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    if let Some(tool) = wanted_tool(&body, fault.as_ref()) {
        let mut reply = tool_call_reply(&model, tool, stream, include_usage_of(&body), prompt);
        reply.stall = Duration::from_millis(fault.as_ref().and_then(|f| f.stall_ms).unwrap_or(0));
        return reply;
    }
    let wide = body.pointer("/mock/wide").and_then(Value::as_bool) == Some(true);
    let token = move |i: usize| {
        if wide {
            "你".to_string()
        } else {
            format!("tok{i} ")
        }
    };
    if !stream {
        let text: String = (0..n).map(token).collect();
        let mut answer = json!({
            "id": "chatcmpl-mock", "object": "chat.completion", "created": 1_700_000_000,
            "model": model,
            "choices": (0..choices).map(|i| json!({"index": i,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish}))
                .collect::<Vec<_>>(),
        });
        if reasoner {
            answer["choices"][0]["message"]["reasoning_content"] = json!(reasoning);
        }
        if !no_usage {
            answer["usage"] = usage;
        }
        if billed {
            answer["service_tier"] = json!("flex");
        }
        return Reply::json(200, answer);
    }
    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        && !no_usage;
    let chunk = |i: usize, choice: usize| -> Bytes {
        let (delta, finish) = if i < n {
            (json!({"content": token(i)}), Value::Null)
        } else {
            (json!({}), json!(finish))
        };
        let c = json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk",
            "created": 1_700_000_000, "model": model,
            "choices": [{"index": choice, "delta": delta, "finish_reason": finish}]});
        Bytes::from(format!("data: {c}\n\n"))
    };
    let mut events: Vec<Bytes> = Vec::new();
    if reasoner {
        let c = json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk",
            "created": 1_700_000_000, "model": model,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": null,
                "reasoning_content": reasoning}, "finish_reason": null}]});
        events.push(Bytes::from(format!("data: {c}\n\n")));
    }
    events.extend(
        (0..=n)
            .flat_map(|i| (0..choices).map(move |c| (i, c)))
            .map(|(i, c)| chunk(i, c)),
    );
    if let Some(size) = fault.as_ref().and_then(|f| f.unterminated_line_bytes) {
        // One endless "line": data without a newline, in 64 KiB pieces.
        events.truncate(1);
        let piece = Bytes::from(vec![b'x'; 65_536]);
        events.extend(std::iter::repeat_n(piece, size.div_ceil(65_536)));
    }
    if include_usage {
        let mut u = json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk",
            "created": 1_700_000_000, "choices": [], "usage": usage});
        if billed {
            u["service_tier"] = json!("flex");
        }
        events.push(Bytes::from(format!("data: {u}\n\n")));
    }
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    Reply::sse(events, fault.as_ref(), &body)
}

pub(crate) fn embeddings_reply(call: Call<'_>, state: &Shared) -> Reply {
    let Ok(body) = serde_json::from_slice::<Value>(call.body) else {
        return Reply::error(400, "invalid JSON");
    };
    let fault = record(state, &call, &body);
    if let Some(status) = fault.and_then(|f| f.status) {
        return Reply::error(status, "mock fault");
    }
    let inputs: Vec<String> = match body.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().map(|v| v.to_string()).collect(),
        _ => return Reply::error(400, "input is required"),
    };
    let tokens: i64 = inputs.iter().map(|s| (s.len() / 4 + 1) as i64).sum();
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let seed = s.len() as f64;
            let v: Vec<f64> = (0..8).map(|d| ((seed + d as f64) * 0.1).sin()).collect();
            json!({"object": "embedding", "index": i, "embedding": v})
        })
        .collect();
    Reply::json(
        200,
        json!({
            "object": "list", "data": data, "model": body.get("model"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}
        }),
    )
}
