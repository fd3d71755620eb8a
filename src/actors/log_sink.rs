//! `LogSink`: buffers finished calls and writes them in batches — the request-log rows and
//! the token usage counters they add up to, in one transaction.

use std::time::Duration;

use actix::prelude::*;
use entity::request_log;
use sea_orm::DatabaseConnection;

use crate::store::logs::{recent_for_token, write_batch, LogEntry};

/// Rows kept while the database is unreachable; older ones are dropped past this.
const MAX_PENDING: usize = 200_000;

pub struct LogSink {
    db: DatabaseConnection,
    buffer: Vec<LogEntry>,
    batch_size: usize,
    flush_interval: Duration,
    counters: bool,
}

impl LogSink {
    /// `counters`: also add each row's usage to its token's counters (accounting on).
    pub fn new(
        db: DatabaseConnection,
        batch_size: usize,
        flush_interval: Duration,
        counters: bool,
    ) -> LogSink {
        LogSink {
            db,
            buffer: Vec::with_capacity(batch_size),
            batch_size,
            flush_interval,
            counters,
        }
    }

    /// Writes the buffer in the background; a failed batch goes back into the buffer whole
    /// (its transaction rolled back, so nothing is counted twice).
    fn flush(&mut self, ctx: &mut Context<Self>) {
        if self.buffer.is_empty() {
            return;
        }
        let rows = std::mem::replace(&mut self.buffer, Vec::with_capacity(self.batch_size));
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

#[derive(Message)]
#[rtype(result = "()")]
pub struct Record(pub LogEntry);

impl Handler<Record> for LogSink {
    type Result = ();

    fn handle(&mut self, msg: Record, ctx: &mut Context<Self>) {
        self.buffer.push(msg.0);
        if self.buffer.len() >= self.batch_size {
            self.flush(ctx);
        }
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
                    .map_err(|e| format!("cannot read request logs: {e}"))
            }
            .into_actor(self),
        )
    }
}
