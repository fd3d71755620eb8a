//! `BatchTxn`: one sqlx transaction on the pool behind the sea-orm connection, for the
//! request log's batch. The log rows are bound on it straight from their fields (see
//! `logs::write_batch`); the rest of the batch — rollups, end users, leases, counters —
//! runs through it as a sea-orm `ConnectionTrait`, so every write of a batch is still one
//! transaction.
//!
//! Why not sea-orm's own transaction: its statements carry sea-query `Value`s, each string
//! boxed, then cloned again by the driver before binding — for ~10 strings a row that was
//! most of the log row's own cost on the writer (measured with `perf`, docs/benchmarks.md).

use sea_orm::sea_query::Values;
use sea_orm::sqlx::{self, Postgres, Sqlite, Transaction};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr,
    Statement,
};
use sea_query_binder::SqlxValues;
use tokio::sync::Mutex;

pub enum Open {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

pub struct BatchTxn {
    backend: DbBackend,
    open: Mutex<Open>,
}

/// A driver error as sea-orm reports an execution error.
pub fn exec_err(e: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(e))
}

impl BatchTxn {
    /// Begins a transaction on `db`'s pool (SQLite or Postgres).
    pub async fn begin(db: &DatabaseConnection) -> Result<BatchTxn, DbErr> {
        let backend = db.get_database_backend();
        let open = match backend {
            DbBackend::Postgres => Open::Postgres(
                db.get_postgres_connection_pool()
                    .begin()
                    .await
                    .map_err(exec_err)?,
            ),
            DbBackend::Sqlite => Open::Sqlite(
                db.get_sqlite_connection_pool()
                    .begin()
                    .await
                    .map_err(exec_err)?,
            ),
            other => return Err(DbErr::Custom(format!("no log writer for {other:?}"))),
        };
        Ok(BatchTxn {
            backend,
            open: Mutex::new(open),
        })
    }

    /// The open transaction, for statements bound directly with sqlx.
    pub async fn lock(&self) -> tokio::sync::MutexGuard<'_, Open> {
        self.open.lock().await
    }

    pub async fn commit(self) -> Result<(), DbErr> {
        match self.open.into_inner() {
            Open::Sqlite(t) => t.commit().await,
            Open::Postgres(t) => t.commit().await,
        }
        .map_err(exec_err)
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for BatchTxn {
    fn get_database_backend(&self) -> DbBackend {
        self.backend
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let values = SqlxValues(stmt.values.unwrap_or(Values(Vec::new())));
        match &mut *self.open.lock().await {
            Open::Sqlite(t) => sqlx::query_with(&stmt.sql, values)
                .execute(&mut **t)
                .await
                .map(ExecResult::from),
            Open::Postgres(t) => sqlx::query_with(&stmt.sql, values)
                .execute(&mut **t)
                .await
                .map(ExecResult::from),
        }
        .map_err(exec_err)
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.execute(Statement::from_string(self.backend, sql))
            .await
    }

    async fn query_one(&self, _: Statement) -> Result<Option<QueryResult>, DbErr> {
        Err(DbErr::Custom("the log batch only writes".into()))
    }

    async fn query_all(&self, _: Statement) -> Result<Vec<QueryResult>, DbErr> {
        Err(DbErr::Custom("the log batch only writes".into()))
    }
}
