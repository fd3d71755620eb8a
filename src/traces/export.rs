//! The span queue: each traced call's spans, already written in OTLP's wire format on the
//! call's own thread, wait in a bounded buffer for one exporter thread, which sends them
//! in batches. A call never waits on it: queueing takes a plain lock for a `Vec::push`,
//! and wakes the exporter only when a whole batch is waiting (else it comes by every
//! `export_interval_ms`) — a wake-up per span cost a thread switch per span, and spans
//! freed on another thread than the one that made them cost the allocator's locks. Spans
//! past `max_queue_spans` are dropped and counted (`gateway_trace_spans_dropped_total`); an
//! exporter that is down or slow only fills the buffer.

use std::collections::VecDeque;
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::Notify;

use super::otlp_export::OtlpExporter;

/// How the queue exports: most spans waiting, spans per export, how long a span waits for
/// its batch to fill, the export timeout.
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    pub max_queue: usize,
    pub batch: usize,
    pub interval: Duration,
    pub timeout: Duration,
}

/// Calls' written spans with their span counts, oldest first, and how many spans in all.
#[derive(Debug, Default)]
struct Queued {
    calls: VecDeque<(Vec<u8>, u32)>,
    spans: usize,
}

/// What the calls' threads and the exporter's share.
#[derive(Debug)]
struct Shared {
    queued: Mutex<Queued>,
    /// Flushes asked for, answered once everything queued before them went out.
    flushes: Mutex<Vec<std_mpsc::Sender<()>>>,
    wake: Notify,
    batching: Batching,
}

#[derive(Debug)]
pub struct SpanQueue {
    shared: Arc<Shared>,
}

pub const SPANS_EXPORTED: &str = "gateway_trace_spans_exported_total";
pub const SPANS_DROPPED: &str = "gateway_trace_spans_dropped_total";
pub const EXPORTS_FAILED: &str = "gateway_trace_exports_failed_total";

/// At most one warning about failed exports this often.
const WARN_EVERY: Duration = Duration::from_secs(60);

impl SpanQueue {
    /// Starts the exporter thread (it runs its own single-threaded actix runtime, for the
    /// hyper client's connection tasks) and returns the queue that feeds it.
    pub fn start<F>(make_exporter: F, batching: Batching) -> std::io::Result<SpanQueue>
    where
        F: FnOnce() -> OtlpExporter + Send + 'static,
    {
        for name in [SPANS_EXPORTED, EXPORTS_FAILED] {
            metrics::counter!(name).absolute(0);
        }
        metrics::counter!(SPANS_DROPPED, "reason" => "queue_full").absolute(0);
        metrics::counter!(SPANS_DROPPED, "reason" => "export_failed").absolute(0);
        let shared = Arc::new(Shared {
            queued: Mutex::new(Queued::default()),
            flushes: Mutex::new(Vec::new()),
            wake: Notify::new(),
            batching,
        });
        let exporting = shared.clone();
        std::thread::Builder::new()
            .name("trace-export".into())
            .spawn(move || {
                actix_web::rt::System::new().block_on(run(make_exporter(), exporting));
            })?;
        Ok(SpanQueue { shared })
    }

    /// Waits (at most `timeout`) until everything queued so far was exported or dropped.
    pub fn flush(&self, timeout: Duration) -> bool {
        let (done, wait) = std_mpsc::channel();
        self.shared.flushes.lock().push(done);
        self.shared.wake.notify_one();
        wait.recv_timeout(timeout).is_ok()
    }

    /// Queues a call's `n` spans, written; dropped and counted when they do not fit.
    pub fn push(&self, written: Vec<u8>, n: u32) {
        let b = &self.shared.batching;
        let waiting = {
            let mut q = self.shared.queued.lock();
            if q.spans + n as usize > b.max_queue {
                None
            } else {
                q.calls.push_back((written, n));
                q.spans += n as usize;
                Some(q.spans)
            }
        };
        match waiting {
            None => {
                metrics::counter!(SPANS_DROPPED, "reason" => "queue_full").increment(u64::from(n))
            }
            // The batch just filled: the exporter comes now rather than at its interval.
            Some(spans) if spans >= b.batch && spans - (n as usize) < b.batch => {
                self.shared.wake.notify_one()
            }
            Some(_) => {}
        }
    }

    /// Takes whole calls, oldest first, up to `batch` spans (at least one call).
    fn take_batch(shared: &Shared) -> (Vec<Vec<u8>>, u64) {
        let mut q = shared.queued.lock();
        let (mut taken, mut spans) = (Vec::new(), 0usize);
        while let Some((_, n)) = q.calls.front() {
            if !taken.is_empty() && spans + *n as usize > shared.batching.batch {
                break;
            }
            let (written, n) = q.calls.pop_front().expect("a front call");
            spans += n as usize;
            taken.push(written);
        }
        q.spans -= spans;
        (taken, spans as u64)
    }
}

/// The exporter thread: every interval, or as soon as a batch is waiting, takes what is
/// queued and exports it batch by batch, each with a timeout; answers flushes after.
async fn run(mut exporter: OtlpExporter, shared: Arc<Shared>) {
    let b = shared.batching;
    // A collector that is down fails every batch: one warning a minute says so.
    let mut warned: Option<(Instant, u64)> = None;
    loop {
        let _ = tokio::time::timeout(b.interval, shared.wake.notified()).await;
        let flushes = std::mem::take(&mut *shared.flushes.lock());
        loop {
            let (batch, n) = SpanQueue::take_batch(&shared);
            if batch.is_empty() {
                break;
            }
            let failed = match tokio::time::timeout(b.timeout, exporter.export(&batch)).await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e),
                Err(_) => Some(format!("no answer in {} ms", b.timeout.as_millis())),
            };
            match failed {
                None => metrics::counter!(SPANS_EXPORTED).increment(n),
                Some(why) => {
                    metrics::counter!(EXPORTS_FAILED).increment(1);
                    metrics::counter!(SPANS_DROPPED, "reason" => "export_failed").increment(n);
                    warn_failed(&mut warned, n, why);
                }
            }
            if (n as usize) < b.batch {
                break;
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

fn warn_failed(warned: &mut Option<(Instant, u64)>, n: u64, why: String) {
    if let Some((at, since)) = warned {
        if at.elapsed() < WARN_EVERY {
            *since += 1;
            return;
        }
    }
    let more = warned.map_or(0, |(_, since)| since);
    log::warn!(
        "trace export of {n} spans failed ({more} more failed exports since the last \
         warning): {why}"
    );
    *warned = Some((Instant::now(), 0));
}
