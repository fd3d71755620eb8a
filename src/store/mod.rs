//! Database access through the sea-orm entities, one module per aggregate.
//! Actors and the CLI call these; handlers never do.

pub mod account_tables;
pub mod audit;
pub mod batch_txn;
pub mod budget_alerts;
pub mod budget_holds;
pub mod changes;
pub mod chunks;
pub mod cooldowns;
pub mod counters;
pub mod end_users;
pub mod log_entry;
pub mod log_search;
pub mod login_attempts;
pub mod logs;
pub mod parallel_holds;
pub mod prices;
pub mod provider_keys;
pub mod provider_seed;
pub mod providers;
pub mod rate_windows;
pub mod redirects;
pub mod reseal;
pub mod responses;
pub mod rollups;
pub mod sessions;
pub mod summary;
pub mod teams;
pub mod tokens;

pub use entity::columns::ModelList;

/// The database's clock in Unix ms, as an SQL expression for `backend`.
pub fn db_clock_sql(backend: sea_orm::DbBackend) -> &'static str {
    match backend {
        sea_orm::DbBackend::Postgres => {
            "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
        }
        _ => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
    }
}

/// The database's clock, Unix ms. Change timestamps that other instances poll for are taken
/// from it (not from each instance's wall clock), so instances whose clocks disagree still
/// see each other's changes.
pub async fn db_now(db: &impl sea_orm::ConnectionTrait) -> Result<i64, sea_orm::DbErr> {
    use sea_orm::Statement;
    let backend = db.get_database_backend();
    let sql = format!("SELECT {} AS now", db_clock_sql(backend));
    let row = db
        .query_one(Statement::from_string(backend, sql))
        .await?
        .ok_or_else(|| sea_orm::DbErr::Custom("the clock query returned no row".into()))?;
    row.try_get::<i64>("", "now")
}

/// A model list as stored (NULL: every model).
pub fn models_to_db(models: &Option<Vec<String>>) -> Option<ModelList> {
    models.clone().map(ModelList::Names)
}

/// Reads a stored model list. Fails closed: an unreadable one (a hand-edited row, say)
/// becomes an empty list, which allows and serves nothing.
/// A filter: `column` contains `q`, in any case, with `%` and `_` taken literally.
pub fn name_contains<C: sea_orm::ColumnTrait>(
    column: C,
    q: &str,
) -> sea_orm::sea_query::SimpleExpr {
    use sea_orm::sea_query::{Expr, Func, LikeExpr};
    let escaped: String = q
        .to_lowercase()
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    Expr::expr(Func::lower(Expr::col(column)))
        .like(LikeExpr::new(format!("%{escaped}%")).escape('\\'))
}

pub fn models_from_db(stored: Option<&ModelList>) -> Option<Vec<String>> {
    match stored? {
        ModelList::Names(names) => Some(names.clone()),
        ModelList::Unreadable(_) => {
            log::error!("a stored model list is not a JSON array of strings: treated as empty");
            Some(Vec::new())
        }
    }
}
