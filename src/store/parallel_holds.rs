//! Concurrency slots held by the instances of a cluster (Postgres only): one row per
//! instance and token, `slots` of the token's `max_parallel` held until `expires_at`. A row
//! grows only in a transaction that locks the token's row and sees every live row of the
//! token, so the slots held across the cluster never pass `max_parallel`; a row not renewed
//! (its instance died) stops counting when it expires.

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait, Value,
};

use super::account_tables::Tables;
use super::db_clock_sql;

/// Sets this instance's hold on a token to `slots` when the other instances' live holds
/// leave room under `max`: the hold's id (`lease` when it still exists, else a new row), or
/// `None` when they do not.
pub async fn grow(
    db: &DatabaseConnection,
    t: &Tables,
    owner_id: i32,
    lease: Option<i64>,
    slots: i32,
    max: i32,
    ttl_ms: i64,
) -> Result<Option<i64>, DbErr> {
    let now = db_clock_sql(DbBackend::Postgres);
    let txn = db.begin().await?;
    let pg = |sql: String, values: Vec<Value>| {
        Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
    };
    // One grower per token at a time, across the cluster.
    txn.execute(pg(
        format!("SELECT id FROM {} WHERE id = $1 FOR UPDATE", t.owner),
        vec![Value::from(owner_id)],
    ))
    .await?;
    let others = txn
        .query_one(pg(
            format!(
                "SELECT CAST(COALESCE(SUM(slots), 0) AS BIGINT) AS n FROM {} \
                 WHERE {} = $1 AND expires_at > {now} AND id IS DISTINCT FROM $2",
                t.slots, t.fk
            ),
            vec![Value::from(owner_id), Value::from(lease)],
        ))
        .await?
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0);
    if others + i64::from(slots) > i64::from(max) {
        txn.rollback().await?;
        return Ok(None);
    }
    let updated = match lease {
        Some(id) => txn
            .query_one(pg(
                format!(
                    "UPDATE {} SET slots = $2, expires_at = {now} + $3 \
                     WHERE id = $1 RETURNING id",
                    t.slots
                ),
                vec![Value::from(id), Value::from(slots), Value::from(ttl_ms)],
            ))
            .await?
            .map(|r| r.try_get::<i64>("", "id"))
            .transpose()?,
        None => None,
    };
    let id = match updated {
        Some(id) => id,
        None => txn
            .query_one(pg(
                format!(
                    "INSERT INTO {} ({}, slots, expires_at) \
                     VALUES ($1, $2, {now} + $3) RETURNING id",
                    t.slots, t.fk
                ),
                vec![
                    Value::from(owner_id),
                    Value::from(slots),
                    Value::from(ttl_ms),
                ],
            ))
            .await?
            .ok_or_else(|| DbErr::Custom("no id for a new parallel hold".into()))?
            .try_get::<i64>("", "id")?,
    };
    txn.commit().await?;
    Ok(Some(id))
}

/// Shrinks (or renews) holds to what their instance has in flight: `(id, slots)`; a hold
/// of 0 slots is deleted.
pub async fn set(
    db: &DatabaseConnection,
    t: &Tables,
    holds: &[(i64, i32)],
    ttl_ms: i64,
) -> Result<(), DbErr> {
    let now = db_clock_sql(DbBackend::Postgres);
    for (id, slots) in holds {
        let (sql, values) = if *slots <= 0 {
            (
                format!("DELETE FROM {} WHERE id = $1", t.slots),
                vec![Value::from(*id)],
            )
        } else {
            (
                format!(
                    "UPDATE {} SET slots = $2, expires_at = {now} + $3 WHERE id = $1",
                    t.slots
                ),
                vec![Value::from(*id), Value::from(*slots), Value::from(ttl_ms)],
            )
        };
        db.execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await?;
    }
    Ok(())
}

/// Deletes holds that expired (their instance stopped renewing them).
pub async fn expire(db: &DatabaseConnection, t: &Tables) -> Result<u64, DbErr> {
    let now = db_clock_sql(DbBackend::Postgres);
    let done = db
        .execute(Statement::from_string(
            DbBackend::Postgres,
            format!("DELETE FROM {} WHERE expires_at <= {now}", t.slots),
        ))
        .await?;
    Ok(done.rows_affected())
}
