//! Rate windows shared by the instances of a cluster (Postgres only): per account and
//! database-clock minute, the requests and tokens the instances took. Instances take them
//! in chunks (`accounting::rate_lease`) with one conditional upsert each, and one call at a
//! time once no whole chunk is left.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, Value};

use super::account_tables::Tables;
use super::db_clock_sql;

/// How a count must fit the minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// All of it within `rpm` / `tpm` (a chunk an instance spends later).
    Whole,
    /// The minute below `rpm` / `tpm` before it (one call, as on one instance: it may end
    /// over by its own tokens).
    Started,
}

/// Counts `requests` and `tokens` into the account's current minute if they fit under
/// `rpm` / `tpm` as `fit` says: the minute's start and the database's clock, or `None`
/// when the minute has no room.
pub async fn take(
    db: &DatabaseConnection,
    t: &Tables,
    owner_id: i32,
    (requests, tokens): (i64, i64),
    (rpm, tpm): (Option<i32>, Option<i32>),
    fit: Fit,
) -> Result<Option<(i64, i64)>, DbErr> {
    let now = db_clock_sql(DbBackend::Postgres);
    let (w, fk) = (t.windows, t.fk);
    let room = match fit {
        Fit::Whole => format!(
            "($4::BIGINT IS NULL OR {w}.requests + excluded.requests <= $4) \
             AND ($5::BIGINT IS NULL OR {w}.tokens + excluded.tokens <= $5)"
        ),
        Fit::Started => format!(
            "($4::BIGINT IS NULL OR {w}.requests < $4) AND ($5::BIGINT IS NULL OR {w}.tokens < $5)"
        ),
    };
    let sql = format!(
        "INSERT INTO {w} ({fk}, window_start, requests, tokens) \
         VALUES ($1, ({now} / 60000) * 60000, $2, $3) \
         ON CONFLICT ({fk}, window_start) DO UPDATE \
           SET requests = {w}.requests + excluded.requests, \
               tokens = {w}.tokens + excluded.tokens \
           WHERE {room} \
         RETURNING window_start, {now} AS db_now"
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
