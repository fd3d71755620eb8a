//! Prometheus metrics (`GET /metrics`), through the `metrics` facade and its Prometheus
//! exporter. Every series is named `gateway_…`; labels are bounded: routes are route
//! patterns, providers and models only those a call was routed to.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, histogram, Counter, Histogram};
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
///
/// The series' handles come from a per-thread cache: a call costs a few hash look-ups and
/// atomic adds, no label strings and no trip through the registry.
pub fn record_call(e: &LogEntry, to_first_attempt: Option<Duration>, model_known: bool) {
    let (provider, model) = match &e.provider {
        Some(p) if model_known => (p.as_str(), e.model.as_deref().unwrap_or_default()),
        Some(p) => (p.as_str(), OTHER_MODEL),
        None => ("", ""),
    };
    CACHE.with_borrow_mut(|cache| {
        let endpoint = cache.endpoint(e.endpoint);
        endpoint.duration.record(e.latency_ms as f64 / 1000.0);
        if let Some(ms) = e.first_byte_ms.filter(|_| e.is_success()) {
            endpoint.first_token.record(ms as f64 / 1000.0);
        }
        if let Some(d) = to_first_attempt {
            cache.added_latency.record(d.as_secs_f64());
        }
        let series = cache.model(provider, model);
        series.requests(e.endpoint, e.status_code).increment(1);
        if e.prompt_tokens > 0 || e.completion_tokens > 0 {
            series
                .prompt_tokens
                .increment(e.prompt_tokens.max(0) as u64);
            series
                .completion_tokens
                .increment(e.completion_tokens.max(0) as u64);
        }
        if e.amount > crate::core::money::Money::ZERO {
            series.cost.increment(e.amount.nanos() as u64);
        }
        if e.attempts > 0 {
            cache
                .provider(provider)
                .attempts
                .increment(u64::from(e.attempts));
            if e.attempts > 1 {
                cache.failovers.increment(1);
            }
        }
    });
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
    CACHE.with_borrow_mut(|cache| {
        cache
            .provider(provider)
            .upstream_latency
            .record(elapsed.as_secs_f64())
    });
}

/// One HTTP request has been answered: its route pattern, method and status.
pub fn record_http(route: &str, method: &str, status: u16, elapsed: Duration) {
    let method = method_label(method);
    CACHE.with_borrow_mut(|cache| cache.http(route, method, status, elapsed));
}

/// A method as a label value: the standard ones by name, anything a client made up as
/// `other` (label values stay bounded).
pub fn method_label(method: &str) -> &str {
    const STANDARD: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
    ];
    STANDARD
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or("other")
}

/// Moves recorded histogram samples into their buckets. The exporter keeps every sample
/// until this runs (a scrape runs it too): the server calls it every few seconds, so memory
/// stays flat when nobody scrapes.
pub fn upkeep() {
    if let Some(handle) = HANDLE.get() {
        handle.run_upkeep();
    }
}

thread_local! {
    static CACHE: RefCell<SeriesCache> = RefCell::new(SeriesCache::new());
}

/// Handles of the per-call series, by label values, for one thread. Bounded like the
/// series themselves: endpoints and statuses are few, providers are the configured ones,
/// models the known ones plus `other`, routes the route patterns plus `unmatched`. A
/// thread's cache is made on its first record, so the recorder must be installed before
/// any thread records (`serve` installs it before the workers start).
struct SeriesCache {
    added_latency: Histogram,
    failovers: Counter,
    endpoints: Vec<(&'static str, EndpointSeries)>,
    providers: HashMap<Box<str>, ProviderSeries>,
    models: HashMap<Box<str>, HashMap<Box<str>, ModelSeries>>,
    routes: HashMap<Box<str>, RouteSeries>,
}

struct EndpointSeries {
    duration: Histogram,
    first_token: Histogram,
}

struct ProviderSeries {
    attempts: Counter,
    upstream_latency: Histogram,
}

struct ModelSeries {
    provider: Box<str>,
    model: Box<str>,
    prompt_tokens: Counter,
    completion_tokens: Counter,
    cost: Counter,
    /// `gateway_requests_total` by endpoint and status.
    requests: Vec<(&'static str, u16, Counter)>,
}

struct RouteSeries {
    duration: Histogram,
    /// `gateway_http_requests_total` by method and status.
    requests: Vec<(Box<str>, u16, Counter)>,
}

impl ModelSeries {
    fn requests(&mut self, endpoint: &'static str, status: u16) -> &Counter {
        let at = match self
            .requests
            .iter()
            .position(|(e, s, _)| *e == endpoint && *s == status)
        {
            Some(at) => at,
            None => {
                let c = counter!("gateway_requests_total", "endpoint" => endpoint,
                    "provider" => self.provider.to_string(), "model" => self.model.to_string(),
                    "status" => status.to_string());
                self.requests.push((endpoint, status, c));
                self.requests.len() - 1
            }
        };
        &self.requests[at].2
    }
}

impl SeriesCache {
    fn new() -> SeriesCache {
        SeriesCache {
            added_latency: histogram!("gateway_added_latency_seconds"),
            failovers: counter!("gateway_failovers_total"),
            endpoints: Vec::new(),
            providers: HashMap::new(),
            models: HashMap::new(),
            routes: HashMap::new(),
        }
    }

    fn endpoint(&mut self, endpoint: &'static str) -> &EndpointSeries {
        let at = match self.endpoints.iter().position(|(e, _)| *e == endpoint) {
            Some(at) => at,
            None => {
                let series = EndpointSeries {
                    duration: histogram!("gateway_request_duration_seconds", "endpoint" => endpoint),
                    first_token: histogram!("gateway_time_to_first_token_seconds", "endpoint" => endpoint),
                };
                self.endpoints.push((endpoint, series));
                self.endpoints.len() - 1
            }
        };
        &self.endpoints[at].1
    }

    fn provider(&mut self, provider: &str) -> &ProviderSeries {
        if !self.providers.contains_key(provider) {
            let series = ProviderSeries {
                attempts: counter!("gateway_upstream_attempts_total", "provider" => provider.to_string()),
                upstream_latency: histogram!("gateway_upstream_latency_seconds", "provider" => provider.to_string()),
            };
            self.providers.insert(provider.into(), series);
        }
        &self.providers[provider]
    }

    fn model(&mut self, provider: &str, model: &str) -> &mut ModelSeries {
        if !self.models.contains_key(provider) {
            self.models.insert(provider.into(), HashMap::new());
        }
        let models = self.models.get_mut(provider).expect("just inserted");
        if !models.contains_key(model) {
            let (p, m) = (provider.to_string(), model.to_string());
            let series = ModelSeries {
                provider: provider.into(),
                model: model.into(),
                prompt_tokens: counter!("gateway_tokens_total", "provider" => p.clone(), "model" => m.clone(), "kind" => "prompt"),
                completion_tokens: counter!("gateway_tokens_total", "provider" => p.clone(), "model" => m.clone(), "kind" => "completion"),
                cost: counter!("gateway_cost_nano_usd_total", "provider" => p, "model" => m),
                requests: Vec::new(),
            };
            models.insert(model.into(), series);
        }
        models.get_mut(model).expect("just inserted")
    }

    fn http(&mut self, route: &str, method: &str, status: u16, elapsed: Duration) {
        if !self.routes.contains_key(route) {
            let series = RouteSeries {
                duration: histogram!("gateway_http_request_duration_seconds", "route" => route.to_string()),
                requests: Vec::new(),
            };
            self.routes.insert(route.into(), series);
        }
        let series = self.routes.get_mut(route).expect("just inserted");
        series.duration.record(elapsed.as_secs_f64());
        match series
            .requests
            .iter()
            .find(|(m, s, _)| &**m == method && *s == status)
        {
            Some((_, _, c)) => c.increment(1),
            None => {
                let c = counter!("gateway_http_requests_total", "route" => route.to_string(),
                    "method" => method.to_string(), "status" => status.to_string());
                c.increment(1);
                series.requests.push((method.into(), status, c));
            }
        }
    }
}

#[cfg(test)]
#[path = "telemetry_tests.rs"]
mod tests;
