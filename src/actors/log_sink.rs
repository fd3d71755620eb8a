//! `LogSink`: buffers request-log rows and writes them in batches.

use std::time::Duration;

use actix::prelude::*;
use sea_orm::DatabaseConnection;

use crate::store::logs::{insert_batch, LogEntry};

/// Rows kept while the database is unreachable; older ones are dropped past this.
const MAX_PENDING: usize = 200_000;

pub struct LogSink {
    db: DatabaseConnection,
    buffer: Vec<LogEntry>,
    batch_size: usize,
    flush_interval: Duration,
}

impl LogSink {
    pub fn new(db: DatabaseConnection, batch_size: usize, flush_interval: Duration) -> LogSink {
        LogSink {
            db,
            buffer: Vec::with_capacity(batch_size),
            batch_size,
            flush_interval,
        }
    }

    /// Writes the buffer in the background; failed rows go back into the buffer.
    fn flush(&mut self, ctx: &mut Context<Self>) {
        if self.buffer.is_empty() {
            return;
        }
        let rows = std::mem::replace(&mut self.buffer, Vec::with_capacity(self.batch_size));
        let db = self.db.clone();
        async move {
            let retry = rows.clone();
            insert_batch(&db, rows).await.map_err(|e| (e, retry))
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
        .spawn(ctx);
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
    type Result = ResponseFuture<Result<(), String>>;

    fn handle(&mut self, _: Flush, _: &mut Context<Self>) -> Self::Result {
        let rows = std::mem::take(&mut self.buffer);
        let db = self.db.clone();
        Box::pin(async move {
            if rows.is_empty() {
                return Ok(());
            }
            insert_batch(&db, rows)
                .await
                .map_err(|e| format!("request log flush failed: {e}"))
        })
    }
}
