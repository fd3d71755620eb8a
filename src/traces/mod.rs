//! Traces: one OpenTelemetry server span per client call and one client span per upstream
//! attempt, named and attributed after the GenAI semantic conventions (`names`), recorded
//! as plain values while the call goes (`CallTrace`) and ended with its log entry, exported
//! over OTLP/HTTP protobuf (`otlp_wire`, `otlp_export`) by a bounded queue on a thread of
//! its own (`export`). Off — no span, no allocation, one branch per call — while
//! `telemetry.otlp_endpoint` is unset.

mod call_trace;
pub mod export;
pub mod names;
mod otlp_export;
mod otlp_wire;
mod span;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use opentelemetry::KeyValue;
use rand::Rng;

pub use call_trace::CallTrace;

use crate::accounting::token::TokenInfo;
use crate::core::endpoint::Endpoint;
use crate::settings::TelemetrySettings;
use crate::trace_context::TraceContext;
use crate::upstream::http::{HttpConfig, UpstreamHttp};
use export::{Batching, SpanQueue};
use otlp_export::{OtlpExporter, Target};
use otlp_wire::Preamble;

/// The instrumentation scope the spans are exported under.
const SCOPE: &str = "gateway-zero";

/// What every traced call shares: the queue its spans go to, what it may record, and
/// which new traces it keeps.
pub struct Tracing {
    queue: SpanQueue,
    /// Prompt and completion content on spans, cut to this many bytes (`None`: never).
    capture: Option<usize>,
    sample_ratio: f64,
}

impl Tracing {
    /// The tracer `settings` ask for (`None`: no endpoint, tracing off). Starts the
    /// exporter's thread.
    pub fn start(
        settings: &TelemetrySettings,
        http: &HttpConfig,
    ) -> Result<Option<Arc<Tracing>>, String> {
        let Some(endpoint) = &settings.otlp_endpoint else {
            return Ok(None);
        };
        let resource = [
            KeyValue::new("service.name", settings.service_name.clone()),
            KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
            // Spans are made and written here, not by the OpenTelemetry SDK.
            KeyValue::new("telemetry.sdk.name", SCOPE),
            KeyValue::new("telemetry.sdk.language", "rust"),
            KeyValue::new("telemetry.sdk.version", env!("CARGO_PKG_VERSION")),
        ];
        let preamble = Preamble::new(&resource, SCOPE, env!("CARGO_PKG_VERSION"));
        let target = Target::parse(endpoint, &settings.headers)?;
        let http = http.clone();
        let timeout = Duration::from_millis(settings.export_timeout_ms);
        // Made on the exporter's thread: its client's connections live there.
        let make_exporter = move || OtlpExporter::new(UpstreamHttp::new(&http), target, preamble);
        let batching = Batching {
            max_queue: settings.max_queue_spans,
            batch: settings.export_batch_spans,
            interval: Duration::from_millis(settings.export_interval_ms),
            timeout,
        };
        let queue = SpanQueue::start(make_exporter, batching)
            .map_err(|e| format!("trace exporter thread: {e}"))?;
        Ok(Some(Arc::new(Tracing {
            queue,
            capture: settings
                .capture_content
                .then_some(settings.max_content_bytes),
            sample_ratio: settings.sample_ratio,
        })))
    }

    /// Starts the trace of a call to `endpoint` that began at `started`, as a child of the
    /// client's `parent` when it sent one (recorded when that one is sampled), else in a
    /// new trace (recorded by `telemetry.sample_ratio`); `None`: not recorded.
    pub fn start_call(
        self: &Arc<Self>,
        endpoint: Endpoint,
        parent: Option<&TraceContext>,
        started: Instant,
        token: &TokenInfo,
    ) -> Option<Box<CallTrace>> {
        let mut rng = rand::thread_rng();
        let (trace_id, parent_span) = match parent {
            Some(p) => {
                if p.flags & 1 == 0 {
                    return None;
                }
                let trace_id = u128::from_str_radix(&p.trace_id, 16).ok()?;
                (trace_id, Some(u64::from_str_radix(&p.parent_id, 16).ok()?))
            }
            None => {
                let trace_id = rng.gen::<u128>().max(1);
                if !samples(self.sample_ratio, trace_id) {
                    return None;
                }
                (trace_id, None)
            }
        };
        let start = SystemTime::now() - started.elapsed();
        let state = parent.and_then(|p| p.state.as_deref()).map(Arc::from);
        Some(Box::new(CallTrace::new(
            self.clone(),
            call_trace::Ids {
                trace_id,
                server: rng.gen::<u64>().max(1),
                parent: parent_span,
                state,
            },
            endpoint,
            start,
            token,
        )))
    }

    /// Exports what is queued (at shutdown), waiting at most a few seconds.
    pub fn flush(&self) {
        if !self.queue.flush(Duration::from_secs(5)) {
            log::warn!("trace flush: the collector did not take the last spans in 5 s");
        }
    }
}

/// Whether a new trace is kept at `ratio`, decided by its id alone (as OpenTelemetry's
/// `TraceIdRatioBased` sampler does: every instance keeps the same traces).
fn samples(ratio: f64, trace_id: u128) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    let bound = (ratio.max(0.0) * (1u64 << 63) as f64) as u64;
    ((trace_id as u64) >> 1) < bound
}

#[cfg(test)]
mod tests {
    use super::samples;

    #[test]
    fn the_ratio_keeps_that_share_of_traces_by_id() {
        let ids: Vec<u128> = (0..20_000u64)
            .map(|i| u128::from(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
            .collect();
        let kept = |r: f64| ids.iter().filter(|id| samples(r, **id)).count();
        assert_eq!(kept(0.0), 0);
        assert_eq!(kept(1.0), ids.len());
        let quarter = kept(0.25) as f64 / ids.len() as f64;
        assert!((quarter - 0.25).abs() < 0.02, "{quarter}");
        // The same id, the same answer.
        assert_eq!(samples(0.5, ids[7]), samples(0.5, ids[7]));
    }
}
