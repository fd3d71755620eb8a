//! Traces over OTLP: a real receiver (the official `opentelemetry-proto` package) decodes
//! what the gateway exports — the server span of each call and one client span per
//! upstream attempt, named and attributed after the GenAI semantic conventions, in the
//! client's trace when it sent one — while the upstream sees the attempt's span as its
//! parent and the log row keeps the trace id. One file per concern: the conventions on a
//! chat call, attempts (failover, a cut stream), dialects (translation, Responses, the
//! WebSocket, refusal, content), export (sampling, dead and slow collectors).

mod attempts;
mod conventions;
mod dialects;
mod export;

use serde_json::Value;

use crate::harness::*;

const CLIENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";
const SERVER: i64 = 2;
const CLIENT: i64 = 3;
const STATUS_ERROR: i64 = 2;

pub(super) fn traced(
    backend: &Backend,
    receiver: &OtlpReceiver,
    extra: &[(&str, &str)],
) -> Gateway {
    let endpoint = receiver.endpoint();
    let mut env = vec![
        ("GATEWAY__TELEMETRY__OTLP_ENDPOINT", endpoint.as_str()),
        ("GATEWAY__TELEMETRY__EXPORT_INTERVAL_MS", "50"),
    ];
    env.extend_from_slice(extra);
    Gateway::start(backend, &env)
}

pub(super) fn attr<'a>(span: &'a Value, name: &str) -> &'a Value {
    &span["attributes"][name]
}

pub(super) async fn call(
    gw: &Gateway,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> (u16, Value) {
    let mut req = client()
        .post(gw.url(path))
        .insert_header(("authorization", format!("Bearer {token}")))
        .insert_header(("anthropic-version", "2023-06-01"));
    for (name, value) in headers {
        req = req.insert_header((*name, *value));
    }
    let mut resp = req.send_json(body).await.unwrap();
    let raw = resp.body().limit(1 << 20).await.unwrap();
    let body =
        serde_json::from_slice(&raw).unwrap_or(Value::String(String::from_utf8_lossy(&raw).into()));
    (resp.status().as_u16(), body)
}

/// `call` as a child of the client's span `CLIENT_SPAN` in trace `trace_id` (sampled).
pub(super) async fn call_in_trace(
    gw: &Gateway,
    path: &str,
    token: &str,
    trace_id: &str,
    body: &Value,
) -> (u16, Value) {
    let traceparent = client_parent(trace_id);
    call(
        gw,
        path,
        token,
        &[("traceparent", traceparent.as_str())],
        body,
    )
    .await
}

/// A sampled `traceparent` in trace `trace_id` naming the client's span `CLIENT_SPAN`.
pub(super) fn client_parent(trace_id: &str) -> String {
    format!("00-{trace_id}-{CLIENT_SPAN}-01")
}

/// The server span and the attempt spans (in start order) of `trace_id`.
pub(super) async fn spans_of(
    receiver: &OtlpReceiver,
    trace_id: &str,
    attempts: usize,
) -> (Value, Vec<Value>) {
    let spans = receiver.trace(trace_id, attempts + 1).await;
    let server = span_of_kind(&spans, SERVER);
    assert_eq!(server.len(), 1, "{spans:#?}");
    let attempts_seen = span_of_kind(&spans, CLIENT);
    assert_eq!(attempts_seen.len(), attempts, "{spans:#?}");
    (server[0].clone(), attempts_seen)
}
