//! The span queue: finished spans wait in a bounded queue for one exporter thread, which
//! sends them in batches over OTLP. A call never waits on it: a full queue drops the span
//! and counts it (`gateway_trace_spans_dropped_total`), and an exporter that is down or
//! slow only fills the queue. The SDK's own batch processor keeps its drop count to itself,
//! hence this one.

use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use opentelemetry::Context;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use tokio::sync::mpsc;

/// What the exporter thread is told.
enum Message {
    Span(Box<SpanData>),
    /// Export everything queued before this, then answer.
    Flush(std_mpsc::Sender<()>),
}

/// How the queue exports: batch size, how long a batch waits to fill, the export timeout.
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    pub max_queue: usize,
    pub batch: usize,
    pub interval: Duration,
    pub timeout: Duration,
}

#[derive(Debug)]
pub struct SpanQueue {
    tx: mpsc::Sender<Message>,
}

/// At most one warning about failed exports this often.
const WARN_EVERY: Duration = Duration::from_secs(60);

pub const SPANS_EXPORTED: &str = "gateway_trace_spans_exported_total";
pub const SPANS_DROPPED: &str = "gateway_trace_spans_dropped_total";
pub const EXPORTS_FAILED: &str = "gateway_trace_exports_failed_total";

impl SpanQueue {
    /// Starts the exporter thread (it runs its own single-threaded actix runtime, for the
    /// hyper client's connection tasks) and returns the queue that feeds it.
    pub fn start<E, F>(make_exporter: F, batching: Batching) -> std::io::Result<SpanQueue>
    where
        E: SpanExporter + 'static,
        F: FnOnce() -> E + Send + 'static,
    {
        for name in [SPANS_EXPORTED, EXPORTS_FAILED] {
            metrics::counter!(name).absolute(0);
        }
        metrics::counter!(SPANS_DROPPED, "reason" => "queue_full").absolute(0);
        metrics::counter!(SPANS_DROPPED, "reason" => "export_failed").absolute(0);
        let (tx, rx) = mpsc::channel(batching.max_queue);
        std::thread::Builder::new()
            .name("trace-export".into())
            .spawn(move || {
                actix_web::rt::System::new().block_on(run(make_exporter(), rx, batching));
            })?;
        Ok(SpanQueue { tx })
    }

    fn flush(&self, timeout: Duration) -> OTelSdkResult {
        let (done, wait) = std_mpsc::channel();
        self.tx
            .try_send(Message::Flush(done))
            .map_err(|_| OTelSdkError::InternalFailure("trace queue full or closed".into()))?;
        wait.recv_timeout(timeout)
            .map_err(|_| OTelSdkError::Timeout(timeout))
    }
}

impl SpanProcessor for SpanQueue {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if self.tx.try_send(Message::Span(Box::new(span))).is_err() {
            metrics::counter!(SPANS_DROPPED, "reason" => "queue_full").increment(1);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.flush(Duration::from_secs(5))
    }

    /// The gateway flushes at its stop (`Tracing::flush`); the provider's own shutdown,
    /// when it is dropped at exit, waits for nothing (a hung collector must not hold the
    /// process).
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// The exporter thread: gathers up to `batch` spans (waiting at most `interval` once the
/// first arrived), exports them with a timeout, and answers flushes once all before them
/// went out.
async fn run<E: SpanExporter>(exporter: E, mut rx: mpsc::Receiver<Message>, b: Batching) {
    let mut batch: Vec<SpanData> = Vec::with_capacity(b.batch);
    let mut waiting: Vec<std_mpsc::Sender<()>> = Vec::new();
    // A collector that is down fails every batch: one warning a minute says so.
    let mut warned: Option<(Instant, u64)> = None;
    loop {
        let Some(first) = rx.recv().await else {
            return;
        };
        let deadline = tokio::time::Instant::now() + b.interval;
        let mut next = Some(first);
        loop {
            match next.take() {
                Some(Message::Span(span)) => batch.push(*span),
                Some(Message::Flush(done)) => {
                    waiting.push(done);
                    break;
                }
                None => {}
            }
            if batch.len() >= b.batch {
                break;
            }
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(message)) => next = Some(message),
                Ok(None) | Err(_) => break,
            }
        }
        if !batch.is_empty() {
            let spans = std::mem::replace(&mut batch, Vec::with_capacity(b.batch));
            let n = spans.len() as u64;
            match tokio::time::timeout(b.timeout, exporter.export(spans)).await {
                Ok(Ok(())) => metrics::counter!(SPANS_EXPORTED).increment(n),
                failed => {
                    metrics::counter!(EXPORTS_FAILED).increment(1);
                    metrics::counter!(SPANS_DROPPED, "reason" => "export_failed").increment(n);
                    let quiet = match &mut warned {
                        Some((at, since)) if at.elapsed() < WARN_EVERY => {
                            *since += 1;
                            true
                        }
                        _ => false,
                    };
                    if !quiet {
                        let why = match failed {
                            Ok(Err(e)) => e.to_string(),
                            _ => format!("no answer in {} ms", b.timeout.as_millis()),
                        };
                        let more = warned.map_or(0, |(_, since)| since);
                        log::warn!(
                            "trace export of {n} spans failed ({more} more failed exports \
                             since the last warning): {why}"
                        );
                        warned = Some((Instant::now(), 0));
                    }
                }
            }
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
}
