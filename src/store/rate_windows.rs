//! Rate windows shared by the instances of a cluster (Postgres only): per account and
//! database-clock minute, the requests and tokens the instances took. Instances take them
//! in chunks (`accounting::rate_lease`) with one conditional upsert each, and one call at a
//! time once no whole chunk is left.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, Value};

use super::account_tables::Tables;
use super::db_clock_sql;

/// Counts one call into the current minute if `rpm` / `tpm` leave room (the minute's
/// tokens below `tpm`, before this call's): the minute's start and the database's clock,
/// or `None` when the minute is full.
pub async fn admit(
    db: &DatabaseConnection,
    t: &Tables,
    owner_id: i32,
    rpm: Option<i32>,
    tpm: Option<i32>,
    tokens: i64,
) -> Result<Option<(i64, i64)>, DbErr> {
    let now = db_clock_sql(DbBackend::Postgres);
    let sql = format!(
        "INSERT INTO {w} ({fk}, window_start, requests, tokens) \
         VALUES ($1, ({now} / 60000) * 60000, 1, $2) \
         ON CONFLICT ({fk}, window_start) DO UPDATE \
           SET requests = {w}.requests + 1, tokens = {w}.tokens + excluded.tokens \
           WHERE ($3::BIGINT IS NULL OR {w}.requests < $3) \
             AND ($4::BIGINT IS NULL OR {w}.tokens < $4) \
         RETURNING window_start, {now} AS db_now",
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
    row.map(|r| {
        Ok((
            r.try_get::<i64>("", "window_start")?,
            r.try_get::<i64>("", "db_now")?,
        ))
    })
    .transpose()
}

/// Takes a chunk of `requests` and `tokens` from the account's current minute if the
/// minute has room for all of it under `rpm` / `tpm`: the minute's start and the
/// database's clock, or `None`.
pub async fn grant(
    db: &DatabaseConnection,
    t: &Tables,
    owner_id: i32,
    (requests, tokens): (i64, i64),
    (rpm, tpm): (Option<i32>, Option<i32>),
) -> Result<Option<(i64, i64)>, DbErr> {
    let now = db_clock_sql(DbBackend::Postgres);
    let sql = format!(
        "INSERT INTO {w} ({fk}, window_start, requests, tokens) \
         VALUES ($1, ({now} / 60000) * 60000, $2, $3) \
         ON CONFLICT ({fk}, window_start) DO UPDATE \
           SET requests = {w}.requests + excluded.requests, \
               tokens = {w}.tokens + excluded.tokens \
           WHERE ($4::BIGINT IS NULL OR {w}.requests + excluded.requests <= $4) \
             AND ($5::BIGINT IS NULL OR {w}.tokens + excluded.tokens <= $5) \
         RETURNING window_start, {now} AS db_now",
        w = t.windows,
        fk = t.fk
    );
    let row = db
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [
                Value::from(owner_id),
                Value::from(requests),
                Value::from(tokens),
                Value::from(rpm.map(i64::from)),
                Value::from(tpm.map(i64::from)),
            ],
        ))
        .await?;
    row.map(|r| {
        Ok((
            r.try_get::<i64>("", "window_start")?,
            r.try_get::<i64>("", "db_now")?,
        ))
    })
    .transpose()
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
