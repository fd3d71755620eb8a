//! `LogSink`: writes finished calls in batches — the request-log rows and the token usage
//! counters they add up to, in one transaction.
//!
//! Request handlers do not message the sink per call: they push rows onto a shared
//! `LogQueue` (an uncontended mutex, no thread wake-up) and nudge the sink only when a batch
//! is full; the sink also drains the queue on its interval and before answering `Flush`.

use std::sync::Arc;

use parking_lot::Mutex;
use std::time::Duration;

use actix::prelude::*;
use entity::request_log;
use sea_orm::DatabaseConnection;

use crate::store::logs::{recent_for_token, write_batch, LogEntry};

/// Rows kept while the database is unreachable; older ones are dropped past this.
const MAX_PENDING: usize = 200_000;

/// Finished calls waiting for the sink.
pub struct LogQueue {
    rows: Mutex<Vec<LogEntry>>,
    batch_size: usize,
}

impl LogQueue {
    pub fn new(batch_size: usize) -> Arc<LogQueue> {
        Arc::new(LogQueue {
            rows: Mutex::new(Vec::new()),
            batch_size,
        })
    }

    /// Queues a row; true when a batch is full and the sink should be told.
    pub fn push(&self, row: LogEntry) -> bool {
        let mut rows = self.rows.lock();
        rows.push(row);
        rows.len() == self.batch_size
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
}

impl LogSink {
    /// `counters`: also add each row's usage to its token's counters (accounting on).
    pub fn new(
        db: DatabaseConnection,
        queue: Arc<LogQueue>,
        flush_interval: Duration,
        counters: bool,
    ) -> LogSink {
        LogSink {
            db,
            queue,
            buffer: Vec::new(),
            flush_interval,
            counters,
        }
    }

    /// Writes the buffer in the background; a failed batch goes back into the buffer whole
    /// (its transaction rolled back, so nothing is counted twice).
    fn flush(&mut self, ctx: &mut Context<Self>) {
        let mut rows = std::mem::take(&mut self.buffer);
        rows.append(&mut self.queue.take());
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
        self.flush(ctx);
        let db = self.db.clone();
        Box::pin(
            async move {
                recent_for_token(&db, msg.token_id, msg.limit)
                    .await
                    .map_err(|e| e.to_string())
            }
            .into_actor(self),
        )
    }
}
