//! Where a gateway under test keeps its data: a temporary SQLite file or a fresh Postgres
//! database.

#![allow(dead_code)]

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

/// Where a gateway under test keeps its data.
pub struct Backend {
    pub label: &'static str,
    pub url: String,
    admin_url: Option<String>,
    db_name: Option<String>,
    pub dir: tempfile::TempDir,
}

impl Backend {
    pub fn sqlite() -> Backend {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/gateway.db?mode=rwc", dir.path().display());
        Backend {
            label: "sqlite",
            url,
            admin_url: None,
            db_name: None,
            dir,
        }
    }

    /// A fresh database on the Postgres named by `GATEWAY_TEST_DATABASE_URL`.
    pub async fn postgres(base: &str) -> Backend {
        let name = format!("gz_test_{:016x}", rand::random::<u64>());
        let admin = Database::connect(base).await.unwrap_or_else(|e| {
            panic!("GATEWAY_TEST_DATABASE_URL is set but Postgres is unreachable: {e}")
        });
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        admin.close().await.ok();
        let (prefix, _) = base.rsplit_once('/').expect("database URL has a path");
        Backend {
            label: "postgres",
            url: format!("{prefix}/{name}"),
            admin_url: Some(base.to_string()),
            db_name: Some(name),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// SQLite always; Postgres too when configured.
    pub async fn all() -> Vec<Backend> {
        let mut out = vec![Backend::sqlite()];
        if let Ok(url) = std::env::var("GATEWAY_TEST_DATABASE_URL") {
            if !url.is_empty() {
                out.push(Backend::postgres(&url).await);
            }
        }
        out
    }

    pub async fn connect(&self) -> DatabaseConnection {
        Database::connect(&self.url).await.expect("connect test db")
    }

    pub async fn drop_database(&self) {
        if let (Some(admin), Some(name)) = (&self.admin_url, &self.db_name) {
            if let Ok(conn) = Database::connect(admin).await {
                let _ = conn
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            }
        }
    }
}
