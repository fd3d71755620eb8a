//! `mock-upstream`: a fake OpenAI (+ Zhipu path) upstream for tests, demos and benchmarks.
//!
//! Answers are deterministic: a chat completion generates `max_tokens` (default 8) tokens
//! `tok0 tok1 …`, one SSE chunk each when streaming. It records which key every call carried
//! and can be told to fail. Control routes:
//! - `GET /_mock/stats` → `{"total", "by_key": {key: n}, "by_path": {path: n}}`
//! - `GET /_mock/requests?limit=N` → the newest request bodies with their key
//! - `POST /_mock/faults` `{"key"?, "model"?, "status"?, "delay_ms"?, "cut_after_chunks"?,
//!   "times"?, "message"?}` → calls matching key/model fail with `status`, wait `delay_ms`
//!   before answering, or (streams) stop after `cut_after_chunks` chunks; `times` limits how
//!   many calls the rule hits
//! - `POST /_mock/reset` → forget counters, requests and faults
//!
//! A request body may also carry `"mock": {"chunk_delay_ms": N, "first_delay_ms": N}`.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use bytes::Bytes;
use clap::Parser;
use futures::stream::{self, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Parser, Debug)]
#[command(name = "mock-upstream", about = "A fake OpenAI-compatible upstream")]
struct Args {
    /// Port to listen on; 0 picks a free one (the chosen address is printed).
    #[arg(long, default_value_t = 9100)]
    port: u16,
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Worker threads.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// How answers are framed: `auto` (content-length or chunked), `close` (HTTP/1.1
    /// without either: the body ends when the connection closes, RFC 9112 §6.3) or
    /// `http10` (the same with an HTTP/1.0 status line). `close` and `http10` serve the chat
    /// and embeddings routes only.
    #[arg(long, value_enum, default_value_t = Framing::Auto)]
    framing: Framing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Framing {
    Auto,
    Close,
    Http10,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
struct Fault {
    key: Option<String>,
    model: Option<String>,
    status: Option<u16>,
    delay_ms: Option<u64>,
    cut_after_chunks: Option<usize>,
    times: Option<u64>,
    message: Option<String>,
    /// Seconds sent in a `retry-after` header with `status`.
    retry_after: Option<u64>,
    /// Answer without usage (whole answers and streams alike).
    no_usage: Option<bool>,
    /// Stream: after the first event, this many bytes without a newline.
    unterminated_line_bytes: Option<usize>,
    /// Stream: pause between events (also for clients whose body cannot carry `mock`).
    chunk_delay_ms: Option<u64>,
}

#[derive(Default)]
struct MockState {
    total: u64,
    by_key: HashMap<String, u64>,
    by_path: HashMap<String, u64>,
    requests: VecDeque<Value>,
    faults: Vec<Fault>,
}

type Shared = web::Data<Mutex<MockState>>;

fn key_of(req: &HttpRequest) -> String {
    if let Some(v) = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
    {
        return v.strip_prefix("Bearer ").unwrap_or(v).to_string();
    }
    req.headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Records the call and returns the fault that applies to it, if any.
fn record(state: &Shared, call: &Call<'_>, body: &Value) -> Option<Fault> {
    let key = call.key.clone();
    let model = body.get("model").and_then(Value::as_str).unwrap_or("");
    let mut s = state.lock().unwrap();
    s.total += 1;
    *s.by_key.entry(key.clone()).or_default() += 1;
    *s.by_path.entry(call.path.to_string()).or_default() += 1;
    s.requests.push_back(
        json!({"key": key, "path": call.path, "body": body, "anthropic_beta": call.beta}),
    );
    if s.requests.len() > 200 {
        s.requests.pop_front();
    }
    let hit = s.faults.iter_mut().find(|f| {
        f.key.as_deref().is_none_or(|k| k == key)
            && f.model.as_deref().is_none_or(|m| m == model)
            && f.times != Some(0)
    })?;
    if let Some(t) = hit.times.as_mut() {
        *t -= 1;
    }
    Some(hit.clone())
}

fn prompt_tokens(body: &Value) -> i64 {
    let chars: usize = body
        .get("messages")
        .and_then(Value::as_array)
        .map(|msgs| {
            msgs.iter()
                .map(|m| match m.get("content") {
                    Some(Value::String(s)) => s.chars().count(),
                    Some(other) => other.to_string().len(),
                    None => 0,
                })
                .sum()
        })
        .unwrap_or(0);
    (chars / 4 + 1) as i64
}

fn mock_opt(body: &Value, name: &str) -> u64 {
    body.pointer(&format!("/mock/{name}"))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// A tool the "model" calls: the first one offered, unless the last message is a tool result.
fn wanted_tool(body: &Value) -> Option<&str> {
    let answered = body
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|m| m.last())
        .is_some_and(|m| m["role"] == "tool");
    body.pointer("/tools/0/function/name")
        .and_then(Value::as_str)
        .filter(|_| !answered)
}

fn include_usage_of(body: &Value) -> bool {
    body.pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// OpenAI's tool-call answer, whole or streamed (arguments in two pieces).
fn tool_call_reply(
    model: &str,
    name: &str,
    stream: bool,
    include_usage: bool,
    prompt: i64,
) -> Reply {
    let arguments = r#"{"city":"Paris","unit":"celsius"}"#;
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
    let (a, b) = arguments.split_at(arguments.len() / 2);
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
        headers: Vec::new(),
    }
}

/// An answer, independent of how it is framed on the wire.
struct Reply {
    status: u16,
    content_type: &'static str,
    /// The body, in the pieces a stream sends (one for a whole answer).
    parts: Vec<Bytes>,
    /// Pause before each piece.
    chunk_delay: Duration,
    /// Extra headers (`retry-after`).
    headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            parts: vec![Bytes::from(body.to_string())],
            chunk_delay: Duration::ZERO,
            headers: Vec::new(),
        }
    }

    fn error(status: u16, message: &str) -> Reply {
        Reply::json(
            status,
            json!({"error": {"message": message, "type": "mock_error",
                "code": status.to_string(), "param": null}}),
        )
    }

    fn into_response(self) -> HttpResponse {
        let status = actix_web::http::StatusCode::from_u16(self.status)
            .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
        let mut builder = HttpResponse::build(status);
        builder.content_type(self.content_type);
        for (name, value) in &self.headers {
            builder.insert_header((*name, value.as_str()));
        }
        if self.parts.len() == 1 && self.content_type == "application/json" {
            return builder.body(self.parts.into_iter().next().unwrap_or_default());
        }
        let delay = self.chunk_delay;
        builder.streaming(stream::iter(self.parts).then(move |b| async move {
            if !delay.is_zero() {
                actix_web::rt::time::sleep(delay).await;
            }
            Ok::<_, std::convert::Infallible>(b)
        }))
    }
}

impl<'a> Call<'a> {
    /// A call as the actix server received it.
    fn of(req: &'a HttpRequest, body: &'a [u8]) -> Call<'a> {
        Call {
            path: req.path(),
            key: key_of(req),
            body,
            beta: req
                .headers()
                .get("anthropic-beta")
                .and_then(|v| v.to_str().ok())
                .map(String::from),
        }
    }
}

/// The request as the mock's logic sees it, whatever server received it.
struct Call<'a> {
    path: &'a str,
    key: String,
    body: &'a [u8],
    /// `anthropic-beta`, when the caller sent it (recorded with the request).
    beta: Option<String>,
}

async fn chat_reply(call: Call<'_>, state: &Shared) -> Reply {
    let Ok(body) = serde_json::from_slice::<Value>(call.body) else {
        return Reply::error(400, "invalid JSON");
    };
    let fault = record(state, &call, &body);
    if let Some(delay) = fault.as_ref().and_then(|f| f.delay_ms) {
        actix_web::rt::time::sleep(Duration::from_millis(delay)).await;
    }
    if let Some(status) = fault.as_ref().and_then(|f| f.status) {
        let message = fault
            .as_ref()
            .and_then(|f| f.message.clone())
            .unwrap_or_else(|| format!("mock fault {status}"));
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
        .unwrap_or(8);
    let cap = body
        .get("max_completion_tokens")
        .or_else(|| body.get("max_tokens"))
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
    if reasoner {
        usage["completion_tokens_details"] = json!({"reasoning_tokens": 4});
        usage["prompt_cache_hit_tokens"] = json!(prompt.min(2));
        usage["prompt_cache_miss_tokens"] = json!(prompt - prompt.min(2));
    }
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    if let Some(name) = wanted_tool(&body) {
        return tool_call_reply(&model, name, stream, include_usage_of(&body), prompt);
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
        let u = json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk",
            "created": 1_700_000_000, "choices": [], "usage": usage});
        events.push(Bytes::from(format!("data: {u}\n\n")));
    }
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    if let Some(cut) = fault.and_then(|f| f.cut_after_chunks) {
        events.truncate(cut);
    }
    Reply {
        status: 200,
        content_type: "text/event-stream",
        parts: events,
        chunk_delay: Duration::from_millis(mock_opt(&body, "chunk_delay_ms")),
        headers: Vec::new(),
    }
}

/// Anthropic's Messages API. Answers with a tool call when tools are offered and the last
/// user turn holds no tool result, else with text; a thinking block first when `thinking`
/// is on. `mock.cache_read` / `mock.cache_write` set the cache usage it reports.
async fn messages_reply(call: Call<'_>, state: &Shared) -> Reply {
    let Ok(body) = serde_json::from_slice::<Value>(call.body) else {
        return anthropic_error(400, "invalid_request_error", "invalid JSON");
    };
    let fault = record(state, &call, &body);
    if let Some(delay) = fault.as_ref().and_then(|f| f.delay_ms) {
        actix_web::rt::time::sleep(Duration::from_millis(delay)).await;
    }
    if let Some(status) = fault.as_ref().and_then(|f| f.status) {
        let message = fault
            .as_ref()
            .and_then(|f| f.message.clone())
            .unwrap_or_else(|| format!("mock fault {status}"));
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
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("claude-mock");
    let natural = body
        .pointer("/mock/default_tokens")
        .and_then(Value::as_u64)
        .unwrap_or(8);
    let n = natural.min(max_tokens).clamp(1, 100_000) as usize;
    let messages = body.get("messages").and_then(Value::as_array);
    let last_has_result = messages
        .and_then(|m| m.last())
        .and_then(|m| m["content"].as_array())
        .is_some_and(|blocks| blocks.iter().any(|b| b["type"] == "tool_result"));
    let tool = body
        .pointer("/tools/0/name")
        .and_then(Value::as_str)
        .filter(|_| !last_has_result);
    let mut blocks = Vec::new();
    if body.get("thinking").is_some() {
        blocks.push(
            json!({"type": "thinking", "thinking": "Let me think.", "signature": "mock-sig"}),
        );
    }
    let (stop_reason, output) = match tool {
        Some(name) => {
            blocks.push(
                json!({"type": "tool_use", "id": "toolu_mock_1", "name": name,
                "input": {"city": "Paris", "unit": "celsius"}}),
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
        "input_tokens": (chars / 4 + 1) as i64,
        "output_tokens": output,
        "cache_read_input_tokens": body.pointer("/mock/cache_read").and_then(Value::as_i64).unwrap_or(0),
        "cache_creation_input_tokens": body.pointer("/mock/cache_write").and_then(Value::as_i64).unwrap_or(0),
    });
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
                let (a, b) = input.split_at(input.len() / 2);
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
            "usage": {"output_tokens": output}}),
    ));
    events.push(event("message_stop", json!({"type": "message_stop"})));
    if let Some(cut) = fault.as_ref().and_then(|f| f.cut_after_chunks) {
        events.truncate(cut);
    }
    let delay = fault
        .and_then(|f| f.chunk_delay_ms)
        .unwrap_or_else(|| mock_opt(&body, "chunk_delay_ms"));
    Reply {
        status: 200,
        content_type: "text/event-stream",
        parts: events,
        chunk_delay: Duration::from_millis(delay),
        headers: Vec::new(),
    }
}

fn anthropic_error(status: u16, kind: &str, message: &str) -> Reply {
    Reply::json(
        status,
        json!({"type": "error", "error": {"type": kind, "message": message}}),
    )
}

async fn messages(req: HttpRequest, body: web::Bytes, state: Shared) -> HttpResponse {
    // Like Anthropic: the version header is required.
    if req.headers().get("anthropic-version").is_none() {
        return anthropic_error(
            400,
            "invalid_request_error",
            "anthropic-version: header is required",
        )
        .into_response();
    }
    let call = Call::of(&req, &body);
    messages_reply(call, &state).await.into_response()
}

/// Anthropic's token counting: the mock's own prompt count.
async fn count_tokens(req: HttpRequest, body: web::Bytes, state: Shared) -> HttpResponse {
    let Ok(value) = serde_json::from_slice::<Value>(&body) else {
        return anthropic_error(400, "invalid_request_error", "invalid JSON").into_response();
    };
    let call = Call::of(&req, &body);
    record(&state, &call, &value);
    let chars = value["messages"].to_string().len();
    HttpResponse::Ok().json(json!({"input_tokens": chars / 4 + 1}))
}

async fn chat(req: HttpRequest, body: web::Bytes, state: Shared) -> HttpResponse {
    let call = Call::of(&req, &body);
    chat_reply(call, &state).await.into_response()
}

fn embeddings_reply(call: Call<'_>, state: &Shared) -> Reply {
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

async fn embeddings(req: HttpRequest, body: web::Bytes, state: Shared) -> HttpResponse {
    let call = Call::of(&req, &body);
    embeddings_reply(call, &state).into_response()
}

async fn models() -> HttpResponse {
    HttpResponse::Ok().json(json!({"object": "list", "data": [
        {"id": "gpt-4o-mini", "object": "model", "owned_by": "mock"},
        {"id": "text-embedding-3-small", "object": "model", "owned_by": "mock"}]}))
}

async fn stats(state: Shared) -> HttpResponse {
    let s = state.lock().unwrap();
    HttpResponse::Ok().json(
        json!({"total": s.total, "by_key": s.by_key, "by_path": s.by_path,
        "faults": s.faults}),
    )
}

#[derive(Deserialize)]
struct Limit {
    limit: Option<usize>,
}

async fn requests(state: Shared, q: web::Query<Limit>) -> HttpResponse {
    let s = state.lock().unwrap();
    let n = q.limit.unwrap_or(20);
    let items: Vec<&Value> = s.requests.iter().rev().take(n).collect();
    HttpResponse::Ok().json(json!({ "data": items }))
}

async fn add_fault(state: Shared, fault: web::Json<Fault>) -> HttpResponse {
    state.lock().unwrap().faults.push(fault.into_inner());
    HttpResponse::Ok().json(json!({"ok": true}))
}

async fn reset(state: Shared) -> HttpResponse {
    *state.lock().unwrap() = MockState::default();
    HttpResponse::Ok().json(json!({"ok": true}))
}

/// The `close`/`http10` framings: a bare HTTP/1.x server that answers once per connection
/// and marks the end of the body by closing it.
mod close_delimited {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    pub async fn serve(listener: TcpListener, state: Shared, framing: Framing) {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            let state = state.clone();
            actix_web::rt::spawn(async move {
                let _ = answer(socket, state, framing).await;
            });
        }
    }

    async fn answer(mut socket: TcpStream, state: Shared, framing: Framing) -> std::io::Result<()> {
        let mut buf = Vec::new();
        let head_end = loop {
            let mut chunk = [0u8; 8192];
            let n = socket.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            if buf.len() > 1 << 20 {
                return Ok(());
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let mut lines = head.split("\r\n");
        let path = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .unwrap_or("/")
            .to_string();
        let mut length = 0usize;
        let mut key = String::new();
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            match name.as_str() {
                "content-length" => length = value.parse().unwrap_or(0),
                "authorization" => key = value.strip_prefix("Bearer ").unwrap_or(value).to_string(),
                "x-api-key" if key.is_empty() => key = value.to_string(),
                _ => {}
            }
        }
        let mut body = buf[head_end..].to_vec();
        while body.len() < length {
            let mut chunk = vec![0u8; (length - body.len()).min(65_536)];
            let n = socket.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            body.extend_from_slice(&chunk[..n]);
        }
        let call = Call {
            path: &path,
            key,
            body: &body,
            beta: None,
        };
        let reply = if path.ends_with("/chat/completions") {
            chat_reply(call, &state).await
        } else if path.ends_with("/messages") {
            messages_reply(call, &state).await
        } else if path.ends_with("/embeddings") {
            embeddings_reply(call, &state)
        } else {
            Reply::error(404, "not found")
        };
        let version = if framing == Framing::Http10 {
            "HTTP/1.0"
        } else {
            "HTTP/1.1"
        };
        let mut head = format!(
            "{version} {} X\r\ncontent-type: {}\r\nconnection: close\r\n",
            reply.status, reply.content_type
        );
        for (name, value) in &reply.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        socket.write_all(head.as_bytes()).await?;
        for part in reply.parts {
            if !reply.chunk_delay.is_zero() {
                actix_web::rt::time::sleep(reply.chunk_delay).await;
            }
            socket.write_all(&part).await?;
            socket.flush().await?;
        }
        socket.shutdown().await
    }
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    actix_web::rt::System::new().block_on(async move {
        let state: Shared = web::Data::new(Mutex::new(MockState::default()));
        if args.framing != Framing::Auto {
            let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port)).await?;
            println!("mock-upstream: {:?} framing", args.framing);
            println!(
                "mock-upstream listening on http://{}",
                listener.local_addr()?
            );
            use std::io::Write;
            std::io::stdout().flush()?;
            close_delimited::serve(listener, state, args.framing).await;
            return Ok(());
        }
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
                .route("/v1/chat/completions", web::post().to(chat))
                .route("/v1/messages", web::post().to(messages))
                .route("/v1/messages/count_tokens", web::post().to(count_tokens))
                .route("/api/paas/v4/chat/completions", web::post().to(chat))
                .route("/v1/embeddings", web::post().to(embeddings))
                .route("/api/paas/v4/embeddings", web::post().to(embeddings))
                .route("/v1/models", web::get().to(models))
                .route("/_mock/stats", web::get().to(stats))
                .route("/_mock/requests", web::get().to(requests))
                .route("/_mock/faults", web::post().to(add_fault))
                .route("/_mock/reset", web::post().to(reset))
        })
        .workers(args.workers.max(1))
        .tcp_nodelay(true)
        .backlog(4096)
        .max_connections(100_000)
        .bind((args.host.as_str(), args.port))?;
        for addr in server.addrs() {
            println!("mock-upstream listening on http://{addr}");
        }
        use std::io::Write;
        std::io::stdout().flush()?;
        server.run().await
    })
}
