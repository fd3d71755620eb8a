//! `LogSink`: does every write of the logs — finished calls in batches (the request-log
//! rows, their rollups and the token usage counters they add up to, in one transaction),
//! audit rows at once, retention — and answers the log reads that must first see what it
//! buffers (pages, rows, summaries). Reads of committed rows alone (the audit trail) go to
//! the store directly.
//!
//! Request handlers do not message the sink per call: they push rows onto a shared
//! `LogQueue` (an uncontended mutex, no thread wake-up) and nudge the sink only when a batch
//! is full; the sink also drains the queue on its interval and before answering `Flush`.

use std::sync::Arc;

use parking_lot::Mutex;
use std::time::Duration;

use actix::prelude::*;
use actix::WeakAddr;
use entity::request_log;
use sea_orm::DatabaseConnection;

use crate::settings::LoggingSettings;
use crate::store::audit::{self, AuditEntry};
use crate::store::end_users::{self, EndUser};
use crate::store::log_entry::LogEntry;
use crate::store::log_search::{self, Cursor, LogFilter};
use crate::store::logs::{delete_older_than, recent_for_token, write_batch};
use crate::store::summary;
use crate::time::now_ms;

/// Rows kept while the database is unreachable; older ones are dropped past this.
const MAX_PENDING: usize = 200_000;

/// Finished calls waiting for the sink.
pub struct LogQueue {
    rows: Mutex<Vec<LogEntry>>,
    batch_size: usize,
    /// The sink to nudge when a batch is full (weak: the sink owns this queue).
    sink: std::sync::OnceLock<WeakAddr<LogSink>>,
}

impl LogQueue {
    pub fn new(batch_size: usize) -> Arc<LogQueue> {
        Arc::new(LogQueue {
            rows: Mutex::new(Vec::new()),
            batch_size,
            sink: std::sync::OnceLock::new(),
        })
    }

    /// The sink this queue's full batches go to.
    pub fn attach(&self, sink: &Addr<LogSink>) {
        let _ = self.sink.set(sink.downgrade());
    }

    /// Queues a row, and nudges the sink when a batch is full (a call holds no address of
    /// its own: cloning one allocated twice per call).
    pub fn push(&self, row: LogEntry) {
        let full = {
            let mut rows = self.rows.lock();
            rows.push(row);
            rows.len() == self.batch_size
        };
        if full {
            if let Some(sink) = self.sink.get().and_then(WeakAddr::upgrade) {
                sink.do_send(BatchFull);
            }
        }
    }

    /// Rows waiting.
    pub fn len(&self) -> usize {
        self.rows.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn take(&self) -> Vec<LogEntry> {
        std::mem::take(&mut *self.rows.lock())
    }
}

pub struct LogSink {
    db: DatabaseConnection,
    queue: Arc<LogQueue>,
    /// Rows taken from the queue whose write failed, retried first.
    buffer: Vec<LogEntry>,
    flush_interval: Duration,
    counters: bool,
    retention: LoggingSettings,
    sweeping: bool,
}

impl LogSink {
    /// `counters`: also add each row's usage to its token's counters (accounting on).
    pub fn new(
        db: DatabaseConnection,
        queue: Arc<LogQueue>,
        flush_interval: Duration,
        counters: bool,
        retention: LoggingSettings,
    ) -> LogSink {
        LogSink {
            db,
            queue,
            buffer: Vec::new(),
            flush_interval,
            counters,
            retention,
            sweeping: false,
        }
    }

    /// Writes what is buffered, then runs a read: the answer includes every finished call.
    fn read_fresh<T, F, Fut>(
        &mut self,
        ctx: &mut Context<Self>,
        read: F,
    ) -> ResponseActFuture<Self, Result<T, String>>
    where
        T: 'static,
        F: FnOnce(DatabaseConnection) -> Fut,
        Fut: std::future::Future<Output = Result<T, sea_orm::DbErr>> + 'static,
    {
        self.flush(ctx);
        let fut = read(self.db.clone());
        Box::pin(async move { fut.await.map_err(|e| e.to_string()) }.into_actor(self))
    }

    /// Deletes rows past `logging.retention_days` in small batches, in the background (the
    /// sink keeps writing meanwhile); one sweep at a time.
    fn sweep(&mut self, ctx: &mut Context<Self>) {
        let days = self.retention.retention_days;
        if days == 0 || self.sweeping {
            return;
        }
        self.sweeping = true;
        let db = self.db.clone();
        let batch = self.retention.retention_batch_rows.max(1) as u64;
        let cutoff = now_ms().saturating_sub(i64::from(days) * 86_400_000);
        async move {
            let mut total = 0;
            loop {
                match delete_older_than(&db, cutoff, batch).await {
                    Ok(n) => {
                        total += n;
                        if n < batch {
                            break;
                        }
                    }
                    Err(e) => {
                        log::warn!("request log retention sweep failed: {e}");
                        ::metrics::counter!("gateway_database_errors_total").increment(1);
                        break;
                    }
                }
                // Let writers in between batches.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            total
        }
        .into_actor(self)
        .map(move |total, act, _| {
            act.sweeping = false;
            if total > 0 {
                log::info!("retention: deleted {total} request log rows older than {days} days");
            }
        })
        .spawn(ctx);
    }

    /// Writes the buffer in the background; a failed batch goes back into the buffer whole
    /// (its transaction rolled back, so nothing is counted twice).
    fn flush(&mut self, ctx: &mut Context<Self>) {
        let mut rows = std::mem::take(&mut self.buffer);
        rows.append(&mut self.queue.take());
        ::metrics::gauge!("gateway_log_queue_depth").set(rows.len() as f64);
        if rows.is_empty() {
            return;
        }
        let (db, counters) = (self.db.clone(), self.counters);
        async move {
            match write_batch(&db, &rows, counters).await {
                Ok(()) => Ok(()),
                Err(e) => Err((e, rows)),
            }
        }
        .into_actor(self)
        .map(|res, act, _| {
            if let Err((e, mut rows)) = res {
                log::error!("request log write failed, will retry: {e}");
                ::metrics::counter!("gateway_database_errors_total").increment(1);
                rows.append(&mut act.buffer);
                if rows.len() > MAX_PENDING {
                    let drop = rows.len() - MAX_PENDING;
                    log::error!("dropping {drop} request log rows: database unavailable");
                    rows.drain(..drop);
                }
                act.buffer = rows;
            }
        })
        .wait(ctx);
    }
}

impl Actor for LogSink {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.flush_interval, |act, ctx| act.flush(ctx));
        let every = Duration::from_secs(self.retention.retention_interval_secs.max(1));
        ctx.run_later(Duration::from_secs(1), |act, ctx| act.sweep(ctx));
        ctx.run_interval(every, |act, ctx| act.sweep(ctx));
    }
}

/// A batch is full in the queue: write now rather than at the next interval.
#[derive(Message)]
#[rtype(result = "()")]
pub struct BatchFull;

impl Handler<BatchFull> for LogSink {
    type Result = ();

    fn handle(&mut self, _: BatchFull, ctx: &mut Context<Self>) {
        self.flush(ctx);
    }
}

/// Writes everything buffered and answers when it is stored (used at shutdown).
#[derive(Message)]
#[rtype(result = "Result<(), String>")]
pub struct Flush;

impl Handler<Flush> for LogSink {
    type Result = ResponseActFuture<Self, Result<(), String>>;

    fn handle(&mut self, _: Flush, ctx: &mut Context<Self>) -> Self::Result {
        self.flush(ctx);
        // `flush` runs with `wait`, so this future runs after the write has finished.
        Box::pin(fut::ready(()).map(|_, act: &mut Self, _| {
            if act.buffer.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{} request log rows could not be written",
                    act.buffer.len()
                ))
            }
        }))
    }
}

/// The newest rows of a token, after writing what is buffered (so they include its latest
/// calls).
#[derive(Message)]
#[rtype(result = "Result<Vec<request_log::Model>, String>")]
pub struct RecentForToken {
    pub token_id: i32,
    pub limit: u64,
}

impl Handler<RecentForToken> for LogSink {
    type Result = ResponseActFuture<Self, Result<Vec<request_log::Model>, String>>;

    fn handle(&mut self, msg: RecentForToken, ctx: &mut Context<Self>) -> Self::Result {
        self.read_fresh(ctx, move |db| async move {
            recent_for_token(&db, msg.token_id, msg.limit).await
        })
    }
}

/// Records an admin change in the audit trail, at once (not batched): the admin who made
/// the change can list it in the next breath.
#[derive(Message)]
#[rtype(result = "Result<(), String>")]
pub struct RecordAudit(pub AuditEntry);

impl Handler<RecordAudit> for LogSink {
    type Result = ResponseFuture<Result<(), String>>;

    fn handle(&mut self, msg: RecordAudit, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move {
            audit::insert(&db, msg.0, now_ms())
                .await
                .map_err(|e| e.to_string())
        })
    }
}

/// A page of request logs, after writing what is buffered.
#[derive(Message)]
#[rtype(result = "Result<(Vec<request_log::Model>, Option<Cursor>), String>")]
pub struct SearchLogs {
    pub filter: LogFilter,
    pub cursor: Option<Cursor>,
    pub limit: u64,
}

impl Handler<SearchLogs> for LogSink {
    type Result =
        ResponseActFuture<Self, Result<(Vec<request_log::Model>, Option<Cursor>), String>>;

    fn handle(&mut self, msg: SearchLogs, ctx: &mut Context<Self>) -> Self::Result {
        self.read_fresh(ctx, move |db| async move {
            log_search::page(&db, &msg.filter, msg.cursor, msg.limit).await
        })
    }
}

/// One request-log row by id.
#[derive(Message)]
#[rtype(result = "Result<Option<request_log::Model>, String>")]
pub struct GetLog(pub i64);

impl Handler<GetLog> for LogSink {
    type Result = ResponseActFuture<Self, Result<Option<request_log::Model>, String>>;

    fn handle(&mut self, msg: GetLog, ctx: &mut Context<Self>) -> Self::Result {
        self.read_fresh(
            ctx,
            move |db| async move { log_search::find(&db, msg.0).await },
        )
    }
}

/// The summary of the last `window_minutes` (after writing what is buffered).
#[derive(Message)]
#[rtype(result = "Result<summary::Report, String>")]
pub struct Summarize {
    pub window_minutes: i64,
    pub top: u64,
}

impl Handler<Summarize> for LogSink {
    type Result = ResponseActFuture<Self, Result<summary::Report, String>>;

    fn handle(&mut self, msg: Summarize, ctx: &mut Context<Self>) -> Self::Result {
        self.read_fresh(ctx, move |db| async move {
            let now = now_ms();
            let since = summary::window_start(now, msg.window_minutes);
            summary::report(&db, since, now, msg.top as usize).await
        })
    }
}

/// The last `window_minutes` as a series of steps of `step_ms`.
#[derive(Message)]
#[rtype(result = "Result<Vec<summary::Point>, String>")]
pub struct Series {
    pub window_minutes: i64,
    pub step_ms: i64,
}

impl Handler<Series> for LogSink {
    type Result = ResponseActFuture<Self, Result<Vec<summary::Point>, String>>;

    fn handle(&mut self, msg: Series, ctx: &mut Context<Self>) -> Self::Result {
        self.read_fresh(ctx, move |db| async move {
            let now = now_ms();
            let since = summary::window_start(now, msg.window_minutes);
            summary::series(&db, since, now, msg.step_ms).await
        })
    }
}

/// Per-model totals of the last `window_minutes`, most requested first.
#[derive(Message)]
#[rtype(result = "Result<Vec<summary::Group>, String>")]
pub struct Distribution {
    pub window_minutes: i64,
}

impl Handler<Distribution> for LogSink {
    type Result = ResponseActFuture<Self, Result<Vec<summary::Group>, String>>;

    fn handle(&mut self, msg: Distribution, ctx: &mut Context<Self>) -> Self::Result {
        self.read_fresh(ctx, move |db| async move {
            let now = now_ms();
            let since = summary::window_start(now, msg.window_minutes);
            summary::distribution(&db, since, now).await
        })
    }
}

/// The end users of the last `window_minutes` by spend (after writing what is buffered).
#[derive(Message)]
#[rtype(result = "Result<Vec<EndUser>, String>")]
pub struct TopEndUsers {
    pub window_minutes: i64,
    pub limit: u64,
}

impl Handler<TopEndUsers> for LogSink {
    type Result = ResponseActFuture<Self, Result<Vec<EndUser>, String>>;

    fn handle(&mut self, msg: TopEndUsers, ctx: &mut Context<Self>) -> Self::Result {
        self.read_fresh(ctx, move |db| async move {
            let since = summary::window_start(now_ms(), msg.window_minutes);
            end_users::top(&db, since, msg.limit).await
        })
    }
}
