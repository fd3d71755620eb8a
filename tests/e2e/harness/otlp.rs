//! A real OTLP/HTTP trace receiver (`tests/otlp/receiver.py`, the official
//! `opentelemetry-proto` package decoding each export) on a loopback port, and the
//! gateway's Prometheus counters.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::*;

pub struct OtlpReceiver {
    child: Child,
    pub base: String,
}

/// Whether the receiver can run here; its absence fails the test where CI sets
/// GATEWAY_TEST_OTLP=1.
pub fn otlp_ready() -> bool {
    sdk_ready(
        "opentelemetry.proto.collector.trace.v1.trace_service_pb2",
        "GATEWAY_TEST_OTLP",
    )
}

impl OtlpReceiver {
    /// A receiver; `args`: `--delay SECONDS` (answer each export that late), `--status N`.
    pub fn start(args: &[&str]) -> OtlpReceiver {
        let script = format!("{}/tests/otlp/receiver.py", env!("CARGO_MANIFEST_DIR"));
        let mut child = Command::new("python3")
            .arg(script)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the OTLP receiver");
        let out = Arc::new(Mutex::new(String::new()));
        drain(child.stdout.take().unwrap(), out.clone());
        let base = wait_for_line(&out, "listening on ", &mut child);
        OtlpReceiver { child, base }
    }

    /// What `telemetry.otlp_endpoint` is set to.
    pub fn endpoint(&self) -> String {
        format!("{}/v1/traces", self.base)
    }

    pub async fn spans(&self) -> Vec<Value> {
        let (_, v) = get_json(&format!("{}/spans", self.base), None).await;
        v.as_array().cloned().unwrap_or_default()
    }

    /// The export requests (their headers and span counts).
    pub async fn exports(&self) -> Vec<Value> {
        let (_, v) = get_json(&format!("{}/exports", self.base), None).await;
        v.as_array().cloned().unwrap_or_default()
    }

    /// The spans of `trace_id` once there are at least `n` (the test fails after 5 s).
    pub async fn trace(&self, trace_id: &str, n: usize) -> Vec<Value> {
        eventually(Duration::from_secs(5), || async {
            let spans: Vec<Value> = self
                .spans()
                .await
                .into_iter()
                .filter(|s| s["trace_id"] == trace_id)
                .collect();
            (spans.len() >= n).then_some(spans)
        })
        .await
        .unwrap_or_else(|| panic!("{n} spans of trace {trace_id}"))
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The one span of `kind` (2 server, 3 client) among `spans`, by position when several.
pub fn span_of_kind(spans: &[Value], kind: i64) -> Vec<Value> {
    let mut found: Vec<Value> = spans
        .iter()
        .filter(|s| s["kind"] == kind)
        .cloned()
        .collect();
    found.sort_by_key(|s| s["start_ns"].as_u64());
    found
}

/// The sum of the gateway's Prometheus samples named `name` with `labels`.
pub async fn metric(gw: &Gateway, name: &str, labels: &[(&str, &str)]) -> f64 {
    let (status, raw) = send_raw("GET", &gw.url("/metrics"), None, None, Vec::new()).await;
    assert_eq!(status, 200);
    let text = String::from_utf8(raw).unwrap();
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text format");
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}
