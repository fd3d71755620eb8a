//! Key cool-downs shared across a cluster: each instance writes the ones it decides and
//! reads everyone's, as durations from the database's clock.

use sea_orm::{DatabaseConnection, DbErr};

/// Shares cool-downs decided here: each key is cooled until at least the database's now
/// plus `remaining_ms` (durations, not wall-clock times, cross between instances).
pub async fn share_cooldowns(db: &DatabaseConnection, cooled: &[(i32, i64)]) -> Result<(), DbErr> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
    let backend = db.get_database_backend();
    let (max, p1, p2) = match backend {
        DbBackend::Postgres => ("GREATEST", "$1", "$2"),
        _ => ("MAX", "?", "?"),
    };
    let sql = format!(
        "UPDATE provider_keys SET cooldown_until = {max}(cooldown_until, {} + {p1}) WHERE id = {p2}",
        super::db_clock_sql(backend)
    );
    for (id, remaining) in cooled {
        db.execute(Statement::from_sql_and_values(
            backend,
            &sql,
            [Value::from(*remaining), Value::from(*id)],
        ))
        .await?;
    }
    Ok(())
}

/// Keys a recovery probe found serving again: their shared cool-downs end.
pub async fn end_cooldowns(db: &DatabaseConnection, keys: &[i32]) -> Result<(), DbErr> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
    let backend = db.get_database_backend();
    let p = match backend {
        DbBackend::Postgres => "$1",
        _ => "?",
    };
    let sql = format!("UPDATE provider_keys SET cooldown_until = 0 WHERE id = {p}");
    for id in keys {
        db.execute(Statement::from_sql_and_values(
            backend,
            &sql,
            [Value::from(*id)],
        ))
        .await?;
    }
    Ok(())
}

/// Keys cooling down anywhere in the cluster: (key id, milliseconds left).
pub async fn active_cooldowns(db: &DatabaseConnection) -> Result<Vec<(i32, i64)>, DbErr> {
    use sea_orm::{ConnectionTrait, Statement};
    let backend = db.get_database_backend();
    let now = super::db_clock_sql(backend);
    let sql = format!(
        "SELECT id, cooldown_until - {now} AS remaining FROM provider_keys WHERE cooldown_until > {now}"
    );
    let rows = db.query_all(Statement::from_string(backend, sql)).await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<i32>("", "id")?,
                r.try_get::<i64>("", "remaining")?,
            ))
        })
        .collect()
}
