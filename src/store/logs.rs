//! Request log rows, written in batches by the `LogSink`.

use entity::request_log;

use std::sync::OnceLock;

use super::account_tables::{TEAMS, TOKENS};
use super::batch_txn::{exec_err, BatchTxn, Open};
use super::chunks::{self, SIZES};
use super::log_entry::LogEntry;
use sea_orm::sqlx::{self, Postgres, Sqlite};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement, Value,
};

const COLUMNS: [&str; 32] = [
    "created_at",
    "request_id",
    "token_id",
    "endpoint",
    "requested_model",
    "model",
    "provider",
    "key_id",
    "stream",
    "status_code",
    "status",
    "error_type",
    "error_message",
    "latency_ms",
    "first_byte_ms",
    "attempts",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "amount_nano",
    "usage_estimated",
    "cache_write_1h_tokens",
    "web_search_requests",
    "service_tier",
    "audio_input_tokens",
    "audio_output_tokens",
    "end_user",
    "session_id",
    "trace_id",
];

/// `INSERT INTO request_logs (…) VALUES (…), …` for `rows` rows, in the backend's
/// placeholder style. The same row count gives the same text, so the driver's prepared
/// statement cache is hit.
fn insert_sql(backend: DbBackend, rows: usize) -> String {
    let mut sql = format!("INSERT INTO request_logs ({}) VALUES ", COLUMNS.join(", "));
    let mut n = 0;
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..COLUMNS.len() {
            n += 1;
            if c > 0 {
                sql.push_str(", ");
            }
            match backend {
                DbBackend::Postgres => sql.push_str(&format!("${n}")),
                _ => sql.push('?'),
            }
        }
        sql.push(')');
    }
    sql
}

/// Binds a row's fields, in `COLUMNS` order, borrowed from the row (no value boxes).
macro_rules! bind_row {
    ($q:expr, $r:expr) => {{
        let r: &LogEntry = $r;
        $q.bind(r.created_at)
            .bind(r.request_id.as_str())
            .bind(r.token_id)
            .bind(r.endpoint)
            .bind(r.requested_model.as_deref())
            .bind(r.model.as_deref())
            .bind(r.provider.as_deref())
            .bind(r.key_id)
            .bind(r.stream)
            .bind(i32::from(r.status_code))
            .bind(r.status())
            .bind(r.error_type.as_deref())
            .bind(r.error_message.as_deref())
            .bind(r.latency_ms)
            .bind(r.first_byte_ms)
            .bind(r.attempts as i32)
            .bind(r.prompt_tokens)
            .bind(r.completion_tokens)
            .bind(r.total_tokens)
            .bind(r.cached_tokens)
            .bind(r.cache_write_tokens)
            .bind(r.reasoning_tokens)
            .bind(r.amount.nanos())
            .bind(r.usage_estimated)
            .bind(r.cache_write_1h_tokens)
            .bind(r.web_search_requests)
            .bind(r.service_tier.name())
            .bind(r.audio_input_tokens)
            .bind(r.audio_output_tokens)
            .bind(r.end_user.as_deref())
            .bind(r.session_id.as_deref())
            .bind(r.trace_id.as_deref())
    }};
}

/// The insert for `rows` rows (one of the chunk sizes), built once per backend.
fn chunk_sql(backend: DbBackend, rows: usize) -> &'static str {
    static SQLITE: [OnceLock<String>; SIZES.len()] = [const { OnceLock::new() }; SIZES.len()];
    static POSTGRES: [OnceLock<String>; SIZES.len()] = [const { OnceLock::new() }; SIZES.len()];
    let i = SIZES.iter().position(|&s| s == rows).expect("a chunk size");
    let texts = match backend {
        DbBackend::Postgres => &POSTGRES,
        _ => &SQLITE,
    };
    texts[i].get_or_init(|| insert_sql(backend, rows))
}

/// Inserts `rows` on the batch's transaction, each field bound from the row.
async fn insert_rows(txn: &BatchTxn, rows: &[LogEntry]) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    let mut open = txn.lock().await;
    for chunk in chunks::cut(rows) {
        let sql = chunk_sql(backend, chunk.len());
        match &mut *open {
            Open::Sqlite(t) => {
                let mut q = sqlx::query::<Sqlite>(sql);
                for row in chunk {
                    q = bind_row!(q, row);
                }
                q.execute(&mut **t).await.map(drop)
            }
            Open::Postgres(t) => {
                let mut q = sqlx::query::<Postgres>(sql);
                for row in chunk {
                    q = bind_row!(q, row);
                }
                q.execute(&mut **t).await.map(drop)
            }
        }
        .map_err(exec_err)?;
    }
    Ok(())
}

/// Writes a batch in one transaction: the log rows and, with `counters`, the token usage
/// counters they add up to (atomic `col = col + n` updates), their rollups and the leases
/// they consume. Either all land or none, so the log and the counters always agree.
pub async fn write_batch(
    db: &DatabaseConnection,
    rows: &[LogEntry],
    counters: bool,
) -> Result<(), DbErr> {
    let txn = BatchTxn::begin(db).await?;
    insert_rows(&txn, rows).await?;
    super::rollups::add(&txn, rows).await?;
    super::end_users::add(&txn, rows).await?;
    let spent_from_leases = |lease: fn(&LogEntry) -> Option<i64>| -> Vec<(i64, i64, i64)> {
        rows.iter()
            .filter_map(|r| Some((lease(r)?, r.total_tokens, r.amount.nanos())))
            .collect()
    };
    let (token_leases, team_leases) = (
        spent_from_leases(|r| r.lease_id),
        spent_from_leases(|r| r.team_lease_id),
    );
    super::budget_holds::consume(&txn, &TOKENS, &token_leases).await?;
    super::budget_holds::consume(&txn, &TEAMS, &team_leases).await?;
    if counters {
        super::counters::add(&txn, rows).await?;
    }
    txn.commit().await
}

/// Deletes up to `batch` log rows older than `cutoff` (Unix ms), and up to `batch` rollup
/// rows of minutes before it; the number of log rows deleted.
pub async fn delete_older_than(
    db: &DatabaseConnection,
    cutoff: i64,
    batch: u64,
) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    let p = match backend {
        DbBackend::Postgres => "$1",
        _ => "?",
    };
    let mut deleted = 0;
    for (table, col) in [
        ("request_logs", "created_at"),
        ("request_rollups", "bucket"),
        ("request_rollups_hourly", "bucket"),
        ("token_rollups", "bucket"),
        ("end_user_rollups", "bucket"),
        ("end_user_sessions", "last_seen"),
        ("latency_rollups", "bucket"),
        ("latency_rollups_hourly", "bucket"),
    ] {
        let sql = format!(
            "DELETE FROM {table} WHERE id IN \
             (SELECT id FROM {table} WHERE {col} < {p} ORDER BY {col} LIMIT {batch})"
        );
        let n = db
            .execute(Statement::from_sql_and_values(
                backend,
                sql,
                [Value::from(cutoff)],
            ))
            .await?
            .rows_affected();
        if table == "request_logs" {
            deleted = n;
        }
    }
    Ok(deleted)
}

/// The newest `limit` log rows of a token.
pub async fn recent_for_token(
    db: &DatabaseConnection,
    token_id: i32,
    limit: u64,
) -> Result<Vec<request_log::Model>, DbErr> {
    request_log::Entity::find()
        .filter(request_log::Column::TokenId.eq(token_id))
        .order_by_desc(request_log::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_sql_placeholders() {
        let pg = insert_sql(DbBackend::Postgres, 2);
        assert!(pg.ends_with("$63, $64)"), "{pg}");
        assert_eq!(pg.matches('(').count(), 3);
        let lite = insert_sql(DbBackend::Sqlite, 1);
        assert_eq!(lite.matches('?').count(), COLUMNS.len());
        assert_eq!(
            chunk_sql(DbBackend::Sqlite, 64).matches('?').count(),
            64 * COLUMNS.len()
        );
    }
}
