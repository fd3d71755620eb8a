//! Rate windows shared by the instances of a cluster (Postgres only): per token and
//! database-clock minute, the requests admitted and the tokens they may use. One
//! conditional upsert admits a call only while the minute has room for it on every
//! instance together.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, Value};

use super::account_tables::Tables;
use super::db_clock_sql;

/// Counts a call into the current minute if `rpm` / `tpm` leave room; the window's start
/// (to shrink later) or `None` when the minute is full.
pub async fn admit(
    db: &DatabaseConnection,
    t: &Tables,
    owner_id: i32,
    rpm: Option<i32>,
    tpm: Option<i32>,
    tokens: i64,
) -> Result<Option<i64>, DbErr> {
    let now = db_clock_sql(DbBackend::Postgres);
    let sql = format!(
        "INSERT INTO {w} ({fk}, window_start, requests, tokens) \
         VALUES ($1, ({now} / 60000) * 60000, 1, $2) \
         ON CONFLICT ({fk}, window_start) DO UPDATE \
           SET requests = {w}.requests + 1, tokens = {w}.tokens + excluded.tokens \
           WHERE ($3::BIGINT IS NULL OR {w}.requests < $3) \
             AND ($4::BIGINT IS NULL OR {w}.tokens < $4) \
         RETURNING window_start",
        w = t.windows,
        fk = t.fk
    );
    let row = db
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [
                Value::from(owner_id),
                Value::from(tokens),
                Value::from(rpm.map(i64::from)),
                Value::from(tpm.map(i64::from)),
            ],
        ))
        .await?;
    row.map(|r| r.try_get::<i64>("", "window_start"))
        .transpose()
}

/// A settled call used `used` of the `reserved` tokens it was counted with.
pub async fn settle(
    db: &DatabaseConnection,
    t: &Tables,
    owner_id: i32,
    window_start: i64,
    reserved: i64,
    used: i64,
) -> Result<(), DbErr> {
    let less = reserved.saturating_sub(used).max(0);
    if less == 0 {
        return Ok(());
    }
    db.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!(
            "UPDATE {} SET tokens = GREATEST(tokens - $3, 0) WHERE {} = $1 AND window_start = $2",
            t.windows, t.fk
        ),
        [
            Value::from(owner_id),
            Value::from(window_start),
            Value::from(less),
        ],
    ))
    .await?;
    Ok(())
}

/// Drops windows older than ten minutes.
pub async fn prune(db: &DatabaseConnection, t: &Tables) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let now = db_clock_sql(DbBackend::Postgres);
    db.execute(Statement::from_string(
        DbBackend::Postgres,
        format!(
            "DELETE FROM {} WHERE window_start < {now} - 600000",
            t.windows
        ),
    ))
    .await?;
    Ok(())
}
