//! Database connection and migrations.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};

use crate::settings::Settings;

/// Connects to `database.url`; for SQLite the file's directory is created first.
pub async fn connect(settings: &Settings) -> Result<DatabaseConnection, String> {
    connect_url(&settings.database.url, settings.database.max_connections).await
}

/// Connects to `url` with a pool of up to `max_connections` (at most 4 for SQLite).
pub async fn connect_url(url: &str, max_connections: u32) -> Result<DatabaseConnection, String> {
    if let Some(path) = sqlite_file(url) {
        if let Some(dir) = std::path::Path::new(path).parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
        }
        owner_only(path)?;
    }
    let mut options = ConnectOptions::new(url.to_string());
    let max = if url.starts_with("sqlite:") {
        // SQLite allows one writer; a small pool avoids lock contention.
        max_connections.clamp(1, 4)
    } else {
        max_connections.max(1)
    };
    // Per-connection settings go on every connection the pool opens (a `PRAGMA` run once
    // reaches one connection only: the others would commit with `synchronous=FULL`).
    options.map_sqlx_sqlite_opts(|o| {
        o.synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true)
    });
    options
        .max_connections(max)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    let db = Database::connect(options)
        .await
        .map_err(|e| format!("cannot connect to the database: {e}"))?;
    if url.starts_with("sqlite:") {
        use sea_orm::ConnectionTrait;
        // The journal mode is the database file's own (kept across connections).
        db.execute_unprepared("PRAGMA journal_mode=WAL")
            .await
            .map_err(|e| format!("cannot configure SQLite: {e}"))?;
    }
    Ok(db)
}

/// The SQLite database and its journal files readable by their owner only (0600): created
/// so before SQLite opens the file (its `-wal` and `-shm` take the database's mode), and an
/// older database's modes tightened.
fn owner_only(path: &str) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if path == ":memory:" || path.is_empty() {
            return Ok(());
        }
        if !std::path::Path::new(path).exists() {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(path)
                .map_err(|e| format!("cannot create {path}: {e}"))?;
        }
        for file in [
            path.to_string(),
            format!("{path}-wal"),
            format!("{path}-shm"),
        ] {
            if let Ok(meta) = std::fs::metadata(&file) {
                if meta.permissions().mode() & 0o077 != 0 {
                    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                        .map_err(|e| format!("cannot restrict {file}: {e}"))?;
                }
            }
        }
    }
    Ok(())
}

/// The Postgres advisory lock taken around migrations ("gz-migra" in ASCII).
const MIGRATION_LOCK: i64 = 0x677a_2d6d_6967_7261;
/// The one taken around start-up seeding ("gz-start").
const STARTUP_LOCK: i64 = 0x677a_2d73_7461_7274;

/// Runs `work` (start-up seeding: declared providers and keys, the bootstrap token, the
/// admin key) while holding a Postgres advisory lock, so instances starting together seed
/// one after the other and each finds what the previous one wrote. The lock lives in a
/// transaction of its own; `work` writes through the pool as usual.
pub async fn with_startup_lock<T, F, Fut>(db: &DatabaseConnection, work: F) -> Result<T, String>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
    if db.get_database_backend() != DbBackend::Postgres {
        return work().await;
    }
    let txn = db
        .begin()
        .await
        .map_err(|e| format!("cannot start the start-up transaction: {e}"))?;
    txn.execute(Statement::from_string(
        DbBackend::Postgres,
        format!("SELECT pg_advisory_xact_lock({STARTUP_LOCK})"),
    ))
    .await
    .map_err(|e| format!("cannot take the start-up lock: {e}"))?;
    let result = work().await;
    txn.commit()
        .await
        .map_err(|e| format!("cannot release the start-up lock: {e}"))?;
    result
}

/// Applies pending migrations. On Postgres under an advisory lock held on one pooled
/// connection: N instances starting at once apply them once, the others wait and find
/// nothing to do. (SQLite serialises writers itself.)
pub async fn migrate(db: &DatabaseConnection) -> Result<(), String> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    if db.get_database_backend() != DbBackend::Postgres {
        return Migrator::up(db, None)
            .await
            .map_err(|e| format!("migration failed: {e}"));
    }
    // A session-level lock belongs to one connection: take it in a transaction-scoped form
    // on a connection of its own (the transaction), and migrate through that same connection.
    let lock = |sql: &str| Statement::from_string(DbBackend::Postgres, sql.to_string());
    let txn = sea_orm::TransactionTrait::begin(db)
        .await
        .map_err(|e| format!("cannot start the migration transaction: {e}"))?;
    txn.execute(lock(&format!(
        "SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"
    )))
    .await
    .map_err(|e| format!("cannot take the migration lock: {e}"))?;
    Migrator::up(&txn, None)
        .await
        .map_err(|e| format!("migration failed: {e}"))?;
    txn.commit()
        .await
        .map_err(|e| format!("cannot commit migrations: {e}"))
}

/// The file path of a `sqlite://path?options` URL (None for in-memory or other databases).
fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then_some(path)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sqlite_paths() {
        assert_eq!(
            super::sqlite_file("sqlite://data/gateway.db?mode=rwc"),
            Some("data/gateway.db")
        );
        assert_eq!(super::sqlite_file("sqlite::memory:"), None);
        assert_eq!(super::sqlite_file("postgres://x"), None);
    }
}
