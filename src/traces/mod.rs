//! Traces: one OpenTelemetry server span per client call and one client span per upstream
//! attempt, named and attributed after the GenAI semantic conventions (`names`), exported
//! over OTLP/HTTP by a bounded queue (`export`) through our own HTTP client
//! (`otlp_client`). Off — no span, no allocation, one branch per call — while
//! `telemetry.otlp_endpoint` is unset.

mod call_trace;
pub mod export;
pub mod names;
mod otlp_client;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer,
    TracerProvider,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;

pub use call_trace::CallTrace;

use crate::accounting::token::TokenInfo;
use crate::core::endpoint::Endpoint;
use crate::settings::TelemetrySettings;
use crate::trace_context::TraceContext;
use crate::upstream::http::{HttpConfig, UpstreamHttp};
use export::{Batching, SpanQueue};

/// The tracer every call's spans come from, and what it may record.
pub struct Tracing {
    tracer: SdkTracer,
    provider: SdkTracerProvider,
    /// Prompt and completion content on spans, cut to this many bytes (`None`: never).
    capture: Option<usize>,
}

impl Tracing {
    /// The tracer `settings` ask for (`None`: no endpoint, tracing off). Starts the
    /// exporter's thread.
    pub fn start(
        settings: &TelemetrySettings,
        http: &HttpConfig,
    ) -> Result<Option<Arc<Tracing>>, String> {
        let Some(endpoint) = settings.otlp_endpoint.clone() else {
            return Ok(None);
        };
        let resource = Resource::builder_empty()
            .with_service_name(settings.service_name.clone())
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .build();
        let http = http.clone();
        let headers = settings.headers.clone();
        let timeout = Duration::from_millis(settings.export_timeout_ms);
        let exporter_resource = resource.clone();
        let make_exporter = move || {
            use opentelemetry_sdk::trace::SpanExporter as _;
            let mut exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_http_client(otlp_client::OtlpHttp(UpstreamHttp::new(&http)))
                .with_endpoint(endpoint)
                .with_headers(headers)
                .with_timeout(timeout)
                .build()
                .expect("the OTLP exporter takes a checked URL");
            exporter.set_resource(&exporter_resource);
            exporter
        };
        let batching = Batching {
            max_queue: settings.max_queue_spans,
            batch: settings.export_batch_spans,
            interval: Duration::from_millis(settings.export_interval_ms),
            timeout,
        };
        let queue = SpanQueue::start(make_exporter, batching)
            .map_err(|e| format!("trace exporter thread: {e}"))?;
        let sampler =
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(settings.sample_ratio)));
        let provider = SdkTracerProvider::builder()
            .with_sampler(sampler)
            .with_span_processor(queue)
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("gateway-zero");
        Ok(Some(Arc::new(Tracing {
            tracer,
            provider,
            capture: settings
                .capture_content
                .then_some(settings.max_content_bytes),
        })))
    }

    /// Starts the server span of a call to `endpoint` that began at `started`, as a child
    /// of the client's `parent` when it sent one; `None` when the call is not sampled.
    pub fn start_call(
        self: &Arc<Self>,
        endpoint: Endpoint,
        parent: Option<&TraceContext>,
        started: Instant,
        token: &TokenInfo,
    ) -> Option<Box<CallTrace>> {
        let parent_cx = match parent.and_then(remote_context) {
            Some(sc) => Context::new().with_remote_span_context(sc),
            None => Context::new(),
        };
        let start = SystemTime::now() - started.elapsed();
        let operation = names::operation(endpoint);
        let span = self
            .tracer
            .span_builder(operation)
            .with_kind(SpanKind::Server)
            .with_start_time(start)
            .start_with_context(&self.tracer, &parent_cx);
        use opentelemetry::trace::Span as _;
        if !span.is_recording() {
            return None;
        }
        let mut attributes = vec![
            KeyValue::new(names::OPERATION_NAME, operation),
            KeyValue::new(names::ENDPOINT, endpoint.name()),
            KeyValue::new(names::TOKEN_ID, i64::from(token.id)),
            KeyValue::new(names::TOKEN_NAME, token.name.clone()),
        ];
        if let Some(team) = token.team_id {
            attributes.push(KeyValue::new(names::TEAM_ID, i64::from(team)));
        }
        let state = parent.and_then(|p| p.state.clone());
        Some(Box::new(CallTrace::new(
            self.clone(),
            parent_cx.with_span(span),
            operation,
            attributes,
            state,
            start,
        )))
    }

    /// Exports what is queued (at shutdown), waiting at most a few seconds.
    pub fn flush(&self) {
        if let Err(e) = self.provider.force_flush() {
            log::warn!("trace flush: {e}");
        }
    }
}

/// The client's span as a remote parent (`None` if its ids do not parse).
fn remote_context(t: &TraceContext) -> Option<SpanContext> {
    let trace_id = TraceId::from_hex(&t.trace_id).ok()?;
    let span_id = SpanId::from_hex(&t.parent_id).ok()?;
    let state = t
        .state
        .as_deref()
        .and_then(|s| s.parse::<TraceState>().ok())
        .unwrap_or_default();
    Some(SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::new(t.flags),
        true,
        state,
    ))
}
