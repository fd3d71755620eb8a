//! Budget alerts waiting to be delivered (an outbox). One row per subject, threshold and
//! period: the unique key makes an alert fire once across a cluster, whichever instance
//! saw the threshold first. A row is claimed for one delivery attempt with a conditional
//! update, so two instances never send it at once.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement, Value};

use super::counters::numbered;

/// An alert due for delivery.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: i64,
    pub payload: String,
    pub attempts: i32,
    pub created_at: i64,
    pub next_attempt_at: i64,
}

/// Records an alert unless one was recorded for the same subject, threshold and period:
/// whether this call recorded it (the caller then delivers and audits it).
pub async fn record_once(
    db: &DatabaseConnection,
    kind: &str,
    subject_id: i32,
    threshold_milli: i32,
    period_start: i64,
    payload: &str,
    now: i64,
) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    let sql =
        "INSERT INTO budget_alerts (subject_kind, subject_id, threshold_milli, period_start, \
               payload, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?) \
               ON CONFLICT (subject_kind, subject_id, threshold_milli, period_start) DO NOTHING";
    let done = db
        .execute(Statement::from_sql_and_values(
            backend,
            numbered(backend, sql),
            [
                Value::from(kind),
                Value::from(subject_id),
                Value::from(threshold_milli),
                Value::from(period_start),
                Value::from(payload),
                Value::from(now),
                Value::from(now),
            ],
        ))
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Up to `limit` alerts undelivered, not given up and due at `now`.
pub async fn due(db: &DatabaseConnection, now: i64, limit: u64) -> Result<Vec<Due>, DbErr> {
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT id, payload, attempts, created_at, next_attempt_at FROM budget_alerts \
         WHERE delivered_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= ? \
         ORDER BY next_attempt_at LIMIT {limit}"
    );
    let rows = db
        .query_all(Statement::from_sql_and_values(
            backend,
            numbered(backend, &sql),
            [Value::from(now)],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Due {
                id: r.try_get("", "id")?,
                payload: r.try_get("", "payload")?,
                attempts: r.try_get("", "attempts")?,
                created_at: r.try_get("", "created_at")?,
                next_attempt_at: r.try_get("", "next_attempt_at")?,
            })
        })
        .collect()
}

/// Claims `due` for one attempt until `until` (another instance that read it too finds it
/// claimed); whether this caller got it.
pub async fn claim(db: &DatabaseConnection, due: &Due, until: i64) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    let sql = "UPDATE budget_alerts SET next_attempt_at = ?, attempts = attempts + 1 \
               WHERE id = ? AND next_attempt_at = ? AND delivered_at IS NULL AND gave_up_at IS NULL";
    let done = db
        .execute(Statement::from_sql_and_values(
            backend,
            numbered(backend, sql),
            [
                Value::from(until),
                Value::from(due.id),
                Value::from(due.next_attempt_at),
            ],
        ))
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The attempt's outcome: delivered, to be retried at `retry_at`, or given up.
pub enum Outcome {
    Delivered,
    RetryAt(i64),
    GaveUp,
}

pub async fn finish(
    db: &DatabaseConnection,
    id: i64,
    outcome: Outcome,
    now: i64,
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let (sql, values): (&str, Vec<Value>) = match outcome {
        Outcome::Delivered => (
            "UPDATE budget_alerts SET delivered_at = ? WHERE id = ?",
            vec![now.into(), id.into()],
        ),
        Outcome::RetryAt(at) => (
            "UPDATE budget_alerts SET next_attempt_at = ? WHERE id = ?",
            vec![at.into(), id.into()],
        ),
        Outcome::GaveUp => (
            "UPDATE budget_alerts SET gave_up_at = ? WHERE id = ?",
            vec![now.into(), id.into()],
        ),
    };
    db.execute(Statement::from_sql_and_values(
        backend,
        numbered(backend, sql),
        values,
    ))
    .await?;
    Ok(())
}
