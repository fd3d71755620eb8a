//! Request log rows, written in batches by the `LogSink`.

use entity::request_log;

use super::account_tables::{TEAMS, TOKENS};
use super::log_entry::LogEntry;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement, TransactionTrait, Value,
};

const COLUMNS: [&str; 31] = [
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

/// Per-token sums of a batch of rows, added to the token's counters.
/// Writes a batch in one transaction: the log rows and, with `counters`, the token usage
/// counters they add up to (atomic `col = col + n` updates). Either both land or neither,
/// so the log and the counters always agree.
pub async fn write_batch(
    db: &DatabaseConnection,
    rows: &[LogEntry],
    counters: bool,
) -> Result<(), DbErr> {
    // Fixed-size statements: full chunks share one SQL text, so the driver's statement cache
    // saves SQLite re-parsing a fresh multi-thousand-parameter insert for every batch.
    const CHUNK: usize = 64;
    let txn = db.begin().await?;
    let backend = db.get_database_backend();
    let mut values = Vec::with_capacity(CHUNK * COLUMNS.len());
    for chunk in rows.chunks(CHUNK) {
        values.clear();
        for row in chunk {
            row.values(&mut values);
        }
        let sql = insert_sql(backend, chunk.len());
        txn.execute(Statement::from_sql_and_values(
            backend,
            sql,
            values.drain(..),
        ))
        .await?;
    }
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
        assert!(pg.ends_with("$61, $62)"), "{pg}");
        assert_eq!(pg.matches('(').count(), 3);
        let lite = insert_sql(DbBackend::Sqlite, 1);
        assert_eq!(lite.matches('?').count(), COLUMNS.len());
        let mut v = Vec::new();
        LogEntry::default().values(&mut v);
        assert_eq!(v.len(), COLUMNS.len());
    }
}
