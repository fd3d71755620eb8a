//! Database connection and migrations.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};

use crate::settings::Settings;

/// Connects to `database.url`; for SQLite the file's directory is created first.
pub async fn connect(settings: &Settings) -> Result<DatabaseConnection, String> {
    let url = &settings.database.url;
    if let Some(path) = sqlite_file(url) {
        if let Some(dir) = std::path::Path::new(path).parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
        }
    }
    let mut options = ConnectOptions::new(url.clone());
    let max = if url.starts_with("sqlite:") {
        // SQLite allows one writer; a small pool avoids lock contention.
        settings.database.max_connections.clamp(1, 4)
    } else {
        settings.database.max_connections.max(1)
    };
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
        for pragma in [
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA busy_timeout=5000",
            "PRAGMA foreign_keys=ON",
        ] {
            db.execute_unprepared(pragma)
                .await
                .map_err(|e| format!("cannot configure SQLite: {e}"))?;
        }
    }
    Ok(db)
}

pub async fn migrate(db: &DatabaseConnection) -> Result<(), String> {
    Migrator::up(db, None)
        .await
        .map_err(|e| format!("migration failed: {e}"))
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
