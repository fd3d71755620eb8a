//! Prometheus metrics (`GET /metrics`), through the `metrics` facade and its Prometheus
//! exporter. Every series is named `gateway_…`; labels are bounded: routes are route
//! patterns, providers and models only those a call was routed to.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::store::log_entry::LogEntry;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Seconds: from half a millisecond (gateway overhead) to ten minutes (long streams).
const BUCKETS: [f64; 19] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 120.0, 300.0, 600.0,
];

/// Installs the process-wide recorder (once; later calls reuse it).
pub fn install() -> Result<(), String> {
    if HANDLE.get().is_some() {
        return Ok(());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets(&BUCKETS)
        .map_err(|e| format!("metrics: {e}"))?
        .install_recorder()
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    describe();
    // Unlabelled series exist from the start, at zero, so a scrape (and an alert on their
    // rate) sees them before the first event.
    for name in [
        "gateway_failovers_total",
        "gateway_unauthenticated_requests_total",
        "gateway_database_errors_total",
        "gateway_internal_errors_total",
        "gateway_login_failures_total",
    ] {
        counter!(name).absolute(0);
    }
    metrics::gauge!("gateway_log_queue_depth").set(0.0);
    let _ = HANDLE.set(handle);
    Ok(())
}

/// The Prometheus text exposition of every series.
pub fn render() -> String {
    HANDLE
        .get()
        .map(PrometheusHandle::render)
        .unwrap_or_default()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "gateway_http_requests_total",
        "HTTP requests by route pattern, method and status"
    );
    describe_histogram!(
        "gateway_http_request_duration_seconds",
        Unit::Seconds,
        "Time to the response head, by route"
    );
    describe_counter!(
        "gateway_requests_total",
        "Proxied calls by endpoint, provider, model and status"
    );
    describe_histogram!(
        "gateway_added_latency_seconds",
        Unit::Seconds,
        "Gateway time before the first upstream request (auth, admission, routing)"
    );
    describe_histogram!(
        "gateway_upstream_latency_seconds",
        Unit::Seconds,
        "Upstream time to the response head, per attempt"
    );
    describe_histogram!(
        "gateway_time_to_first_token_seconds",
        Unit::Seconds,
        "Time to the first byte of the answer relayed to the client"
    );
    describe_histogram!(
        "gateway_request_duration_seconds",
        Unit::Seconds,
        "Whole proxied call, streams to their end"
    );
    describe_counter!(
        "gateway_tokens_total",
        "Tokens billed, by provider, model and kind (prompt, completion)"
    );
    describe_counter!(
        "gateway_cost_nano_usd_total",
        "Billed amount in nano-USD (1e-9 USD), by provider and model"
    );
    describe_counter!(
        "gateway_upstream_attempts_total",
        "Upstream attempts, by provider"
    );
    describe_counter!(
        "gateway_failovers_total",
        "Calls that needed more than one attempt"
    );
    describe_counter!(
        "gateway_key_cooldowns_total",
        "Upstream keys cooled down or benched, by provider and reason"
    );
    describe_counter!(
        "gateway_budget_refusals_total",
        "Calls refused by a token budget or rate limit, by reason"
    );
    describe_counter!(
        "gateway_unauthenticated_requests_total",
        "Requests refused with 401"
    );
    describe_gauge!(
        "gateway_log_queue_depth",
        "Request-log rows waiting to be written"
    );
    describe_counter!(
        "gateway_database_errors_total",
        "Failed database writes and reads"
    );
    describe_gauge!(
        "gateway_change_feed_up",
        "1 while this instance listens for other instances' changes (Postgres LISTEN), else 0"
    );
    describe_counter!("gateway_login_failures_total", "Admin logins refused");
    describe_counter!("gateway_internal_errors_total", "Requests answered 500");
    describe_counter!(
        "gateway_login_rate_limited_total",
        "Admin login attempts refused by the rate limit"
    );
}

/// The label value for models outside the configured ones (client-chosen names).
pub const OTHER_MODEL: &str = "other";

/// One proxied call has ended (its row is about to be queued). `model_known`: the model is
/// in the price book or a provider's explicit list; any other name is labelled `other`, so
/// clients choosing names cannot grow the series without bound.
pub fn record_call(e: &LogEntry, to_first_attempt: Option<Duration>, model_known: bool) {
    let (provider, model) = match &e.provider {
        Some(p) if model_known => (p.clone(), e.model.clone().unwrap_or_default()),
        Some(p) => (p.clone(), OTHER_MODEL.to_string()),
        None => (String::new(), String::new()),
    };
    let status = e.status_code.to_string();
    counter!("gateway_requests_total",
        "endpoint" => e.endpoint, "provider" => provider.clone(), "model" => model.clone(), "status" => status)
    .increment(1);
    histogram!("gateway_request_duration_seconds", "endpoint" => e.endpoint)
        .record(e.latency_ms as f64 / 1000.0);
    if let Some(d) = to_first_attempt {
        histogram!("gateway_added_latency_seconds").record(d.as_secs_f64());
    }
    if let Some(ms) = e.first_byte_ms.filter(|_| e.is_success()) {
        histogram!("gateway_time_to_first_token_seconds", "endpoint" => e.endpoint)
            .record(ms as f64 / 1000.0);
    }
    if e.prompt_tokens > 0 || e.completion_tokens > 0 {
        counter!("gateway_tokens_total", "provider" => provider.clone(), "model" => model.clone(), "kind" => "prompt")
            .increment(e.prompt_tokens.max(0) as u64);
        counter!("gateway_tokens_total", "provider" => provider.clone(), "model" => model.clone(), "kind" => "completion")
            .increment(e.completion_tokens.max(0) as u64);
    }
    if e.amount > crate::core::money::Money::ZERO {
        counter!("gateway_cost_nano_usd_total", "provider" => provider.clone(), "model" => model)
            .increment(e.amount.nanos() as u64);
    }
    if e.attempts > 0 {
        counter!("gateway_upstream_attempts_total", "provider" => provider)
            .increment(u64::from(e.attempts));
        if e.attempts > 1 {
            counter!("gateway_failovers_total").increment(1);
        }
    }
    match e.error_type.as_deref() {
        Some("insufficient_quota") => {
            counter!("gateway_budget_refusals_total", "reason" => "insufficient_quota").increment(1)
        }
        Some("rate_limit_exceeded") => {
            counter!("gateway_budget_refusals_total", "reason" => "rate_limit").increment(1)
        }
        _ => {}
    }
}

/// An upstream answered (or failed) an attempt after `elapsed`.
pub fn record_upstream(provider: &str, elapsed: Duration) {
    histogram!("gateway_upstream_latency_seconds", "provider" => provider.to_string())
        .record(elapsed.as_secs_f64());
}
