//! Who spent it: hourly rollups per end user and session, kept in the same transaction as
//! the log rows they sum (calls without an end user are not rolled up), and the
//! end-users report read from them — never from the log.

use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, Value};

use super::log_entry::LogEntry;
use super::rollups::token_bucket;

fn placeholder(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".into(),
    }
}

/// Adds a batch's rows with an end user to the rollups (inside the batch's transaction).
pub async fn add(conn: &impl ConnectionTrait, rows: &[LogEntry]) -> Result<(), DbErr> {
    let mut sums: BTreeMap<(i64, &str, &str), [i64; 4]> = BTreeMap::new();
    for row in rows {
        let Some(user) = row.end_user.as_deref() else {
            continue;
        };
        let session = row.session_id.as_deref().unwrap_or("");
        let s = sums
            .entry((token_bucket(row.created_at), user, session))
            .or_default();
        s[0] += 1;
        s[1] += i64::from(!row.is_success());
        s[2] += row.total_tokens;
        s[3] += row.amount.nanos();
    }
    if sums.is_empty() {
        return Ok(());
    }
    let backend = conn.get_database_backend();
    let p: Vec<String> = (1..=7).map(|n| placeholder(backend, n)).collect();
    let sql = format!(
        "INSERT INTO end_user_rollups (bucket, end_user, session_id, requests, errors, \
         total_tokens, amount_nano) VALUES ({}) \
         ON CONFLICT (bucket, end_user, session_id) DO UPDATE SET \
         requests = end_user_rollups.requests + excluded.requests, \
         errors = end_user_rollups.errors + excluded.errors, \
         total_tokens = end_user_rollups.total_tokens + excluded.total_tokens, \
         amount_nano = end_user_rollups.amount_nano + excluded.amount_nano",
        p.join(", ")
    );
    for ((hour, user, session), [requests, errors, total, amount]) in sums {
        let values = vec![
            Value::from(hour),
            Value::from(user),
            Value::from(session),
            Value::from(requests),
            Value::from(errors),
            Value::from(total),
            Value::from(amount),
        ];
        conn.execute(Statement::from_sql_and_values(backend, &sql, values))
            .await?;
    }
    Ok(())
}

/// One end user's totals over a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndUser {
    pub end_user: String,
    pub requests: i64,
    pub errors: i64,
    pub total_tokens: i64,
    pub amount_nano: i64,
    /// Distinct sessions the end user's calls named.
    pub sessions: i64,
}

/// The `limit` end users with the most spend since `since`, rounded out to whole hours
/// (the rollups are hourly: end users can be many), most spend first.
pub async fn top(db: &DatabaseConnection, since: i64, limit: u64) -> Result<Vec<EndUser>, DbErr> {
    let backend = db.get_database_backend();
    let sum = |col: &str| format!("CAST(COALESCE(SUM({col}), 0) AS BIGINT) AS {col}");
    let sql = format!(
        "SELECT end_user, {}, {}, {}, {}, \
         CAST(COUNT(DISTINCT NULLIF(session_id, '')) AS BIGINT) AS sessions \
         FROM end_user_rollups WHERE bucket >= {} \
         GROUP BY end_user ORDER BY amount_nano DESC, total_tokens DESC, end_user \
         LIMIT {limit}",
        sum("requests"),
        sum("errors"),
        sum("total_tokens"),
        sum("amount_nano"),
        placeholder(backend, 1),
    );
    let rows = db
        .query_all(Statement::from_sql_and_values(
            backend,
            sql,
            [Value::from(token_bucket(since))],
        ))
        .await?;
    rows.iter()
        .map(|row| {
            Ok(EndUser {
                end_user: row.try_get("", "end_user")?,
                requests: row.try_get("", "requests")?,
                errors: row.try_get("", "errors")?,
                total_tokens: row.try_get("", "total_tokens")?,
                amount_nano: row.try_get("", "amount_nano")?,
                sessions: row.try_get("", "sessions")?,
            })
        })
        .collect()
}
