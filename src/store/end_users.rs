//! Who spent it: hourly rollups per end user and the sessions each end user named (first
//! and last seen), kept in the same transaction as the log rows they sum (calls without an
//! end user are not rolled up), and the end-users report read from them — never from the
//! log. A batch writes one multi-row upsert per table chunk, not a statement per key.

use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, Value};

use super::log_entry::LogEntry;
use super::rollups::{placeholder, token_bucket};

/// Runs `INSERT INTO {head} VALUES (…), … {tail}` over `rows` (each `width` values), in
/// chunks of the fixed sizes (`chunks`) whose keys are distinct (the callers grouped them).
async fn upsert_rows(
    conn: &impl ConnectionTrait,
    head: &str,
    tail: &str,
    width: usize,
    rows: Vec<Vec<Value>>,
) -> Result<(), DbErr> {
    let backend = conn.get_database_backend();
    for chunk in super::chunks::cut(&rows) {
        let mut values = Vec::with_capacity(chunk.len() * width);
        let mut tuples = Vec::with_capacity(chunk.len());
        for row in chunk {
            let n = values.len();
            let marks: Vec<String> = (1..=width).map(|i| placeholder(backend, n + i)).collect();
            tuples.push(format!("({})", marks.join(", ")));
            values.extend(row.iter().cloned());
        }
        let sql = format!("INSERT INTO {head} VALUES {} {tail}", tuples.join(", "));
        conn.execute(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}

/// Adds a batch's rows with an end user to the rollups and sessions (inside the batch's
/// transaction).
pub async fn add(conn: &impl ConnectionTrait, rows: &[LogEntry]) -> Result<(), DbErr> {
    let mut sums: BTreeMap<(i64, &str), [i64; 4]> = BTreeMap::new();
    let mut sessions: BTreeMap<(&str, &str), (i64, i64)> = BTreeMap::new();
    for row in rows {
        let Some(user) = row.end_user.as_deref() else {
            continue;
        };
        let s = sums
            .entry((token_bucket(row.created_at), user))
            .or_default();
        s[0] += 1;
        s[1] += i64::from(!row.is_success());
        s[2] += row.total_tokens;
        s[3] += row.amount.nanos();
        if let Some(session) = row.session_id.as_deref() {
            let seen = sessions
                .entry((user, session))
                .or_insert((row.created_at, row.created_at));
            seen.0 = seen.0.min(row.created_at);
            seen.1 = seen.1.max(row.created_at);
        }
    }
    if sums.is_empty() {
        return Ok(());
    }
    let rows = sums
        .into_iter()
        .map(|((hour, user), [requests, errors, total, amount])| {
            vec![
                Value::from(hour),
                Value::from(user),
                Value::from(requests),
                Value::from(errors),
                Value::from(total),
                Value::from(amount),
            ]
        })
        .collect();
    upsert_rows(
        conn,
        "end_user_rollups (bucket, end_user, requests, errors, total_tokens, amount_nano)",
        "ON CONFLICT (bucket, end_user) DO UPDATE SET \
         requests = end_user_rollups.requests + excluded.requests, \
         errors = end_user_rollups.errors + excluded.errors, \
         total_tokens = end_user_rollups.total_tokens + excluded.total_tokens, \
         amount_nano = end_user_rollups.amount_nano + excluded.amount_nano",
        6,
        rows,
    )
    .await?;
    let rows = sessions
        .into_iter()
        .map(|((user, session), (first, last))| {
            vec![
                Value::from(user),
                Value::from(session),
                Value::from(first),
                Value::from(last),
            ]
        })
        .collect();
    let keep_latest = match conn.get_database_backend() {
        DbBackend::Postgres => "GREATEST(end_user_sessions.last_seen, excluded.last_seen)",
        _ => "MAX(end_user_sessions.last_seen, excluded.last_seen)",
    };
    upsert_rows(
        conn,
        "end_user_sessions (end_user, session_id, first_seen, last_seen)",
        &format!("ON CONFLICT (end_user, session_id) DO UPDATE SET last_seen = {keep_latest}"),
        4,
        rows,
    )
    .await
}

/// One end user's totals over a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndUser {
    pub end_user: String,
    pub requests: i64,
    pub errors: i64,
    pub total_tokens: i64,
    pub amount_nano: i64,
    /// Distinct sessions the end user's calls named in the window.
    pub sessions: i64,
}

/// The `limit` end users with the most spend since `since`, rounded out to whole hours
/// (the rollups are hourly: end users can be many), most spend first, with the sessions
/// each was seen in since then.
pub async fn top(db: &DatabaseConnection, since: i64, limit: u64) -> Result<Vec<EndUser>, DbErr> {
    let backend = db.get_database_backend();
    let sum = |col: &str| format!("CAST(COALESCE(SUM({col}), 0) AS BIGINT) AS {col}");
    let sql = format!(
        "SELECT end_user, {}, {}, {}, {} FROM end_user_rollups WHERE bucket >= {} \
         GROUP BY end_user ORDER BY amount_nano DESC, total_tokens DESC, end_user \
         LIMIT {limit}",
        sum("requests"),
        sum("errors"),
        sum("total_tokens"),
        sum("amount_nano"),
        placeholder(backend, 1),
    );
    let from = token_bucket(since);
    let rows = db
        .query_all(Statement::from_sql_and_values(
            backend,
            sql,
            [Value::from(from)],
        ))
        .await?;
    let mut users = rows
        .iter()
        .map(|row| {
            Ok(EndUser {
                end_user: row.try_get("", "end_user")?,
                requests: row.try_get("", "requests")?,
                errors: row.try_get("", "errors")?,
                total_tokens: row.try_get("", "total_tokens")?,
                amount_nano: row.try_get("", "amount_nano")?,
                sessions: 0,
            })
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    if users.is_empty() {
        return Ok(users);
    }
    // Sessions of the listed end users only, by the (end_user, session_id) index.
    let marks: Vec<String> = (0..users.len())
        .map(|i| placeholder(backend, i + 2))
        .collect();
    let sql = format!(
        "SELECT end_user, CAST(COUNT(*) AS BIGINT) AS sessions FROM end_user_sessions \
         WHERE last_seen >= {} AND end_user IN ({}) GROUP BY end_user",
        placeholder(backend, 1),
        marks.join(", ")
    );
    let mut values = vec![Value::from(from)];
    values.extend(users.iter().map(|u| Value::from(u.end_user.clone())));
    let counts = db
        .query_all(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    for row in counts {
        let user: String = row.try_get("", "end_user")?;
        let n: i64 = row.try_get("", "sessions")?;
        if let Some(u) = users.iter_mut().find(|u| u.end_user == user) {
            u.sessions = n;
        }
    }
    Ok(users)
}
