//! Starts the real binaries (`mock-upstream`, `gateway-zero`) on loopback ports and talks
//! HTTP to them, on SQLite and — when `GATEWAY_TEST_DATABASE_URL` is set — on Postgres.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use awc::http::StatusCode;
use serde_json::{json, Value};

mod agents;
mod backend;
mod budget;
mod cluster;
mod gateway;
mod login;
mod logs;
mod mock;
mod otlp;
mod process;
mod providers;
mod scripts;

pub use agents::*;
pub use backend::*;
pub use budget::*;
pub use cluster::*;
pub use gateway::*;
pub use login::*;
pub use logs::*;
pub use mock::*;
pub use otlp::*;
pub use process::*;
pub use providers::*;
pub use scripts::*;

pub const GATEWAY_BIN: &str = env!("CARGO_BIN_EXE_gateway-zero");
pub const MOCK_BIN: &str = env!("CARGO_BIN_EXE_mock-upstream");

pub fn client() -> awc::Client {
    awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish()
}

pub async fn send_raw(
    method: &str,
    url: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Vec<u8>) {
    let method = awc::http::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = client().request(method, url);
    if let Some(t) = token {
        req = req.insert_header(("authorization", format!("Bearer {t}")));
    }
    if let Some(ct) = content_type {
        req = req.insert_header(("content-type", ct));
    }
    let mut resp = req.send_body(body).await.expect("request failed");
    let status = resp.status();
    let bytes = resp
        .body()
        .limit(64 * 1024 * 1024)
        .await
        .expect("read body");
    (status, bytes.to_vec())
}

pub async fn send_json(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: &Value,
) -> (StatusCode, Value) {
    let (status, bytes) = send_raw(
        method,
        url,
        token,
        Some("application/json"),
        serde_json::to_vec(body).unwrap(),
    )
    .await;
    (status, parse(&bytes))
}

pub async fn get_json(url: &str, token: Option<&str>) -> (StatusCode, Value) {
    let (status, bytes) = send_raw("GET", url, token, None, Vec::new()).await;
    (status, parse(&bytes))
}

fn parse(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).to_string()))
}

/// A minimal chat body.
pub fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "Hello there, gateway"}]})
}

/// Splits an SSE body into its `data:` payloads.
pub fn sse_data(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(str::to_string)
        .collect()
}

/// The text content of an OpenAI event stream, as a client would assemble it.
pub fn streamed_content(text: &str) -> String {
    sse_data(text)
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(String::from)
        })
        .collect()
}

/// Polls `check` until it returns Some or `within` passes.
pub async fn eventually<T, F, Fut>(within: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        actix_web::rt::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Asserts the OpenAI error shape, status, type and (optionally) code.
pub fn assert_error(status: StatusCode, body: &Value, want: u16, kind: &str, code: Option<&str>) {
    assert_eq!(status.as_u16(), want, "{body}");
    let err = &body["error"];
    assert!(err["message"].is_string(), "message missing: {body}");
    assert_eq!(err["type"], kind, "{body}");
    assert!(err.get("param").is_some(), "param missing: {body}");
    if let Some(code) = code {
        assert_eq!(err["code"], code, "{body}");
    }
}

/// This machine's clock, Unix ms.
pub fn unix_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}
