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
fn record(state: &Shared, req: &HttpRequest, body: &Value) -> Option<Fault> {
    let key = key_of(req);
    let model = body.get("model").and_then(Value::as_str).unwrap_or("");
    let mut s = state.lock().unwrap();
    s.total += 1;
    *s.by_key.entry(key.clone()).or_default() += 1;
    *s.by_path.entry(req.path().to_string()).or_default() += 1;
    s.requests
        .push_back(json!({"key": key, "path": req.path(), "body": body}));
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

fn error_response(status: u16, message: &str) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status).json(json!({"error": {
        "message": message, "type": "mock_error", "code": status.as_u16().to_string(), "param": null}}))
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

async fn chat(req: HttpRequest, body: web::Bytes, state: Shared) -> HttpResponse {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error_response(400, "invalid JSON");
    };
    let fault = record(&state, &req, &body);
    if let Some(delay) = fault.as_ref().and_then(|f| f.delay_ms) {
        actix_web::rt::time::sleep(Duration::from_millis(delay)).await;
    }
    if let Some(status) = fault.as_ref().and_then(|f| f.status) {
        let message = fault
            .as_ref()
            .and_then(|f| f.message.clone())
            .unwrap_or_else(|| format!("mock fault {status}"));
        return error_response(status, &message);
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
    let n = body
        .get("max_tokens")
        .or_else(|| body.get("max_completion_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(8)
        .clamp(1, 100_000) as usize;
    let prompt = prompt_tokens(&body);
    let usage =
        json!({"prompt_tokens": prompt, "completion_tokens": n, "total_tokens": prompt + n as i64});
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    if !stream {
        let text: String = (0..n).map(|i| format!("tok{i} ")).collect();
        return HttpResponse::Ok().json(json!({
            "id": "chatcmpl-mock", "object": "chat.completion", "created": 1_700_000_000,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop"}],
            "usage": usage,
        }));
    }
    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let cut = fault.and_then(|f| f.cut_after_chunks);
    let delay = mock_opt(&body, "chunk_delay_ms");
    let chunk = move |i: usize| -> Bytes {
        let (delta, finish) = if i < n {
            (json!({"content": format!("tok{i} ")}), Value::Null)
        } else {
            (json!({}), json!("stop"))
        };
        let c = json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk",
            "created": 1_700_000_000, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        Bytes::from(format!("data: {c}\n\n"))
    };
    let mut events: Vec<Bytes> = (0..=n).map(chunk).collect();
    if include_usage {
        let u = json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk",
            "created": 1_700_000_000, "choices": [], "usage": usage});
        events.push(Bytes::from(format!("data: {u}\n\n")));
    }
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    if let Some(cut) = cut {
        events.truncate(cut);
    }
    let body = stream::iter(events).then(move |b| async move {
        if delay > 0 {
            actix_web::rt::time::sleep(Duration::from_millis(delay)).await;
        }
        Ok::<_, std::convert::Infallible>(b)
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .streaming(body)
}

async fn embeddings(req: HttpRequest, body: web::Bytes, state: Shared) -> HttpResponse {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error_response(400, "invalid JSON");
    };
    let fault = record(&state, &req, &body);
    if let Some(status) = fault.and_then(|f| f.status) {
        return error_response(status, "mock fault");
    }
    let inputs: Vec<String> = match body.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().map(|v| v.to_string()).collect(),
        _ => return error_response(400, "input is required"),
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
    HttpResponse::Ok().json(json!({
        "object": "list", "data": data, "model": body.get("model"),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens}
    }))
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

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    actix_web::rt::System::new().block_on(async move {
        let state: Shared = web::Data::new(Mutex::new(MockState::default()));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
                .route("/v1/chat/completions", web::post().to(chat))
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
