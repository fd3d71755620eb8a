//! `mock-upstream`: a fake OpenAI, Anthropic and Zhipu upstream for tests, demos and
//! benchmarks (`openai.rs`, `anthropic.rs`; `close_delimited.rs` frames answers by closing
//! the connection).
//!
//! Answers are deterministic (the README's mock-upstream section has the details): text is
//! `tok0 tok1 …`, offered tools are called, a `*reasoner` model reasons. It records which key
//! every call carried and can be told to fail. Control routes:
//! - `GET /_mock/stats` → `{"total", "by_key": {key: n}, "by_path": {path: n}}`
//! - `GET /_mock/requests?limit=N` → the newest request bodies with their key and path
//! - `POST /_mock/faults` → calls matching key/model fail, wait, lose usage, are cut, or
//!   stream slowly or endlessly (see `Fault`); `times` limits how many calls a rule hits
//! - `POST /_mock/reset` → forget counters, requests and faults
//!
//! A request body may also carry `"mock": {"chunk_delay_ms", "first_delay_ms",
//! "default_tokens", "wide", "cache_read", "cache_write"}`.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use bytes::Bytes;
use clap::Parser;
use futures::stream::{self, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};

mod anthropic;
mod billed;
mod close_delimited;
mod openai;
mod responses;
mod worst_case;

use anthropic::{anthropic_error, messages_reply};
use openai::{chat_reply, embeddings_reply};

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
    /// Stream: one silence this long after the first event (an upstream thinking quietly).
    stall_ms: Option<u64>,
    /// The tool the "model" calls when the request offers it (and the last turn is no
    /// tool result), with `tool_input` as its arguments: an agent's own tool, scripted.
    tool: Option<String>,
    tool_input: Option<Value>,
}

/// The tool call a request gets: the scripted tool when the fault names one the request
/// offers, else the first tool offered with the mock's stock arguments.
pub(crate) fn scripted_tool<'a>(
    fault: Option<&'a Fault>,
    offered: &[&'a str],
) -> Option<(String, Value)> {
    if let Some(f) = fault {
        if let Some(name) = f.tool.as_deref().filter(|n| offered.contains(n)) {
            return Some((name.to_string(), f.tool_input.clone().unwrap_or(json!({}))));
        }
    }
    offered
        .first()
        .map(|n| (n.to_string(), json!({"city": "Paris", "unit": "celsius"})))
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
        json!({"key": key, "path": call.path, "body": body, "anthropic_headers": call.anthropic,
               "trace_headers": call.trace}),
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

/// Records a call and plays its fault's delay; returns the fault and, when the fault says
/// so, the error to answer with (status and message; each API renders its own shape).
async fn arrive(
    state: &Shared,
    call: &Call<'_>,
    body: &Value,
) -> (Option<Fault>, Option<(u16, String)>) {
    let fault = record(state, call, body);
    if let Some(delay) = fault.as_ref().and_then(|f| f.delay_ms) {
        actix_web::rt::time::sleep(Duration::from_millis(delay)).await;
    }
    let error = fault.as_ref().and_then(|f| {
        let status = f.status?;
        let message = f
            .message
            .clone()
            .unwrap_or_else(|| format!("mock fault {status}"));
        Some((status, message))
    });
    (fault, error)
}

/// An answer, independent of how it is framed on the wire.
struct Reply {
    status: u16,
    content_type: &'static str,
    /// The body, in the pieces a stream sends (one for a whole answer).
    parts: Vec<Bytes>,
    /// Pause before each piece.
    chunk_delay: Duration,
    /// A further pause before the second piece.
    stall: Duration,
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
            stall: Duration::ZERO,
            headers: Vec::new(),
        }
    }

    /// A stream of `events`, cut after the fault's `cut_after_chunks` and paced by its
    /// `chunk_delay_ms` (else the body's `mock.chunk_delay_ms`).
    fn sse(mut events: Vec<Bytes>, fault: Option<&Fault>, body: &Value) -> Reply {
        if let Some(cut) = fault.and_then(|f| f.cut_after_chunks) {
            events.truncate(cut);
        }
        let delay = fault
            .and_then(|f| f.chunk_delay_ms)
            .unwrap_or_else(|| openai::mock_opt(body, "chunk_delay_ms"));
        Reply {
            status: 200,
            content_type: "text/event-stream",
            parts: events,
            chunk_delay: Duration::from_millis(delay),
            stall: Duration::from_millis(fault.and_then(|f| f.stall_ms).unwrap_or(0)),
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
        let (delay, stall) = (self.chunk_delay, self.stall);
        let parts = self.parts.into_iter().enumerate();
        builder.streaming(stream::iter(parts).then(move |(i, b)| async move {
            let pause = if i == 1 { delay + stall } else { delay };
            if !pause.is_zero() {
                actix_web::rt::time::sleep(pause).await;
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
            anthropic: req
                .headers()
                .iter()
                .filter(|(name, _)| name.as_str().starts_with("anthropic-"))
                .map(|(name, value)| {
                    let value = value.to_str().unwrap_or("(not text)");
                    (name.as_str().to_string(), value.to_string())
                })
                .collect(),
            trace: ["traceparent", "tracestate"]
                .into_iter()
                .filter_map(|name| {
                    let value = req.headers().get(name)?.to_str().unwrap_or("(not text)");
                    Some((name.to_string(), value.to_string()))
                })
                .collect(),
        }
    }
}

/// The request as the mock's logic sees it, whatever server received it.
struct Call<'a> {
    path: &'a str,
    key: String,
    body: &'a [u8],
    /// Every `anthropic-*` header as sent, in order (recorded with the request).
    anthropic: Vec<(String, String)>,
    /// The W3C trace headers as sent.
    trace: Vec<(String, String)>,
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
    let mut reply = messages_reply(call, &state).await;
    // As Anthropic does on every answer: the key's rate-limit state.
    reply
        .headers
        .push(("anthropic-ratelimit-requests-remaining", "999".into()));
    reply.into_response()
}

/// Anthropic's token counting: the mock's own prompt count.
async fn count_tokens(req: HttpRequest, body: web::Bytes, state: Shared) -> HttpResponse {
    let Ok(value) = serde_json::from_slice::<Value>(&body) else {
        return anthropic_error(400, "invalid_request_error", "invalid JSON").into_response();
    };
    let call = Call::of(&req, &body);
    let (fault, error) = arrive(&state, &call, &value).await;
    if let Some((status, message)) = error {
        let mut reply = anthropic_error(status, "rate_limit_error", &message);
        if let Some(after) = fault.and_then(|f| f.retry_after) {
            reply.headers.push(("retry-after", after.to_string()));
        }
        return reply.into_response();
    }
    let chars = value["messages"].to_string().len();
    HttpResponse::Ok().json(json!({"input_tokens": chars / 4 + 1}))
}

async fn chat(req: HttpRequest, body: web::Bytes, state: Shared) -> HttpResponse {
    let call = Call::of(&req, &body);
    chat_reply(call, &state).await.into_response()
}

async fn responses_route(req: HttpRequest, body: web::Bytes, state: Shared) -> HttpResponse {
    let call = Call::of(&req, &body);
    responses::responses_reply(call, &state)
        .await
        .into_response()
}

async fn compact_route(req: HttpRequest, body: web::Bytes, state: Shared) -> HttpResponse {
    let call = Call::of(&req, &body);
    responses::compact_reply(call, &state).await.into_response()
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
                .route("/v1/responses", web::post().to(responses_route))
                .route("/v1/responses/compact", web::post().to(compact_route))
                .route("/v1/messages/count_tokens", web::post().to(count_tokens))
                .route("/api/paas/v4/chat/completions", web::post().to(chat))
                .route("/v1/embeddings", web::post().to(embeddings))
                .route("/deepseek/chat/completions", web::post().to(chat))
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

/// Where to split a text in two for streaming it in two pieces: the middle, moved back to a
/// character boundary.
pub fn half(text: &str) -> usize {
    let mut at = text.len() / 2;
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}
