//! Login attempts shared by the instances of a cluster: one counter per subject (a key
//! fingerprint, a client address) and database-clock minute.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement, Value};

use super::db_clock_sql;

/// Counts one attempt for each subject in the current minute; the counts after it.
pub async fn count(db: &DatabaseConnection, subjects: &[String]) -> Result<Vec<i64>, DbErr> {
    let backend = db.get_database_backend();
    let now = db_clock_sql(backend);
    let p = match backend {
        sea_orm::DbBackend::Postgres => "$1",
        _ => "?",
    };
    let sql = format!(
        "INSERT INTO login_attempts (subject, window_start, attempts) \
         VALUES ({p}, ({now} / 60000) * 60000, 1) \
         ON CONFLICT (subject, window_start) DO UPDATE \
           SET attempts = login_attempts.attempts + 1 \
         RETURNING attempts"
    );
    let mut counts = Vec::with_capacity(subjects.len());
    for subject in subjects {
        let row = db
            .query_one(Statement::from_sql_and_values(
                backend,
                &sql,
                [Value::from(subject.as_str())],
            ))
            .await?;
        let n = match row {
            Some(r) => r.try_get::<i32>("", "attempts").map(i64::from)?,
            None => 0,
        };
        counts.push(n);
    }
    Ok(counts)
}

/// Drops minutes older than ten minutes.
pub async fn prune(db: &DatabaseConnection) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let now = db_clock_sql(backend);
    db.execute(Statement::from_string(
        backend,
        format!("DELETE FROM login_attempts WHERE window_start < {now} - 600000"),
    ))
    .await?;
    Ok(())
}
