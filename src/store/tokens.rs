//! Gateway tokens: created here (plaintext returned once), stored as SHA-256 hashes.

use super::models_to_db;
use entity::token;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set, TransactionTrait,
};

use crate::secrets::{generate_token, hash_token, token_display_prefix};

pub use entity::token::Role;

/// A role an admin may give: `client` or `admin`.
pub fn parse_role(text: &str) -> Option<Role> {
    match Role::from_text(text) {
        Role::Unrecognized(_) => None,
        known => Some(known),
    }
}

/// A validated new token.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub name: String,
    pub role: Role,
    pub allowed_models: Option<Vec<String>>,
    pub max_tokens: Option<i64>,
    pub max_amount_nano: Option<i64>,
    pub expires_at: Option<i64>,
    pub rpm: Option<i32>,
    pub tpm: Option<i32>,
    pub max_parallel: Option<i32>,
    pub team_id: Option<i32>,
    /// Validated text (`none`, `daily`, …, `30d`).
    pub budget_period: String,
}

impl NewToken {
    pub fn named(name: &str, role: Role) -> NewToken {
        NewToken {
            name: name.to_string(),
            role,
            allowed_models: None,
            max_tokens: None,
            max_amount_nano: None,
            expires_at: None,
            rpm: None,
            tpm: None,
            max_parallel: None,
            team_id: None,
            budget_period: "none".into(),
        }
    }
}

/// Inserts a token; `plaintext` is used when given (bootstrap), else one is generated.
/// Returns the row and the plaintext, which is never stored.
pub async fn create(
    db: &DatabaseConnection,
    new: &NewToken,
    plaintext: Option<&str>,
) -> Result<(token::Model, String), DbErr> {
    let plain = plaintext.map(str::to_string).unwrap_or_else(generate_token);
    let now = super::db_now(db).await?;
    let row = token::ActiveModel {
        name: Set(new.name.clone()),
        token_hash: Set(hash_token(&plain)),
        token_prefix: Set(token_display_prefix(&plain)),
        role: Set(new.role.clone()),
        allowed_models: Set(models_to_db(&new.allowed_models)),
        max_tokens: Set(new.max_tokens),
        max_amount_nano: Set(new.max_amount_nano),
        expires_at: Set(new.expires_at),
        enabled: Set(true),
        rpm: Set(new.rpm),
        tpm: Set(new.tpm),
        max_parallel: Set(new.max_parallel),
        team_id: Set(new.team_id),
        budget_period: Set(new.budget_period.clone()),
        period_start: Set(0),
        period_tokens: Set(0),
        period_nano: Set(0),
        prompt_tokens: Set(0),
        completion_tokens: Set(0),
        total_tokens: Set(0),
        amount_spent_nano: Set(0),
        request_count: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        last_used_at: Set(None),
        deleted_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok((row, plain))
}

pub async fn find_by_hash(
    db: &DatabaseConnection,
    hash: &str,
) -> Result<Option<token::Model>, DbErr> {
    token::Entity::find()
        .filter(token::Column::TokenHash.eq(hash))
        .filter(token::Column::DeletedAt.is_null())
        .one(db)
        .await
}

pub async fn list(db: &DatabaseConnection) -> Result<Vec<token::Model>, DbErr> {
    token::Entity::find()
        .filter(token::Column::DeletedAt.is_null())
        .order_by_asc(token::Column::Id)
        .all(db)
        .await
}

/// A page of live tokens by id: those after `after`, whose name contains `q` (any case),
/// at most `limit` — and whether more follow. By the primary key, so a page costs the same
/// at 10 tokens and at 100,000 (a `q` search reads the names it passes).
pub async fn page(
    db: &DatabaseConnection,
    q: Option<&str>,
    team_id: Option<i32>,
    after: Option<i32>,
    limit: u64,
) -> Result<(Vec<token::Model>, bool), DbErr> {
    use sea_orm::QuerySelect;
    let mut query = token::Entity::find().filter(token::Column::DeletedAt.is_null());
    if let Some(id) = after {
        query = query.filter(token::Column::Id.gt(id));
    }
    if let Some(team) = team_id {
        query = query.filter(token::Column::TeamId.eq(team));
    }
    if let Some(q) = q.filter(|q| !q.is_empty()) {
        query = query.filter(super::name_contains(token::Column::Name, q));
    }
    let mut rows = query
        .order_by_asc(token::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    Ok((rows, more))
}

/// The names of tokens `ids` (deleted ones too: their rows stay), for views that would
/// otherwise show ids.
pub async fn names(
    db: &DatabaseConnection,
    ids: &[i32],
) -> Result<std::collections::HashMap<i32, String>, DbErr> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    Ok(token::Entity::find()
        .filter(token::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect())
}

/// What start-up did with `auth.bootstrap_admin_token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bootstrap {
    Created,
    Exists,
    /// An admin deleted it: it stays deleted.
    Deleted,
}

/// Creates the bootstrap admin token unless a token with that plaintext exists or existed.
pub async fn ensure_bootstrap(
    db: &DatabaseConnection,
    plaintext: &str,
) -> Result<Bootstrap, DbErr> {
    let existing = token::Entity::find()
        .filter(token::Column::TokenHash.eq(hash_token(plaintext)))
        .one(db)
        .await?;
    if let Some(row) = existing {
        return Ok(if row.deleted_at.is_some() {
            Bootstrap::Deleted
        } else {
            Bootstrap::Exists
        });
    }
    create(
        db,
        &NewToken::named("bootstrap-admin", Role::Admin),
        Some(plaintext),
    )
    .await?;
    Ok(Bootstrap::Created)
}

/// A validated partial update; `Some(None)` clears a nullable field.
#[derive(Debug, Clone, Default)]
pub struct TokenPatch {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub allowed_models: Option<Option<Vec<String>>>,
    pub max_tokens: Option<Option<i64>>,
    pub max_amount_nano: Option<Option<i64>>,
    pub expires_at: Option<Option<i64>>,
    pub enabled: Option<bool>,
    pub rpm: Option<Option<i32>>,
    pub tpm: Option<Option<i32>>,
    pub max_parallel: Option<Option<i32>>,
    pub team_id: Option<Option<i32>>,
    pub budget_period: Option<String>,
}

pub async fn find(db: &DatabaseConnection, id: i32) -> Result<Option<token::Model>, DbErr> {
    token::Entity::find_by_id(id)
        .filter(token::Column::DeletedAt.is_null())
        .one(db)
        .await
}

/// Applies a patch; `None` when there is no such token. Usage counters are never touched
/// here (they only ever grow, by atomic increments).
pub async fn update(
    db: &DatabaseConnection,
    id: i32,
    patch: &TokenPatch,
) -> Result<Option<token::Model>, DbErr> {
    let Some(existing) = find(db, id).await? else {
        return Ok(None);
    };
    let existing_period = existing.budget_period.clone();
    let mut row: token::ActiveModel = existing.into();
    if let Some(v) = &patch.name {
        row.name = Set(v.clone());
    }
    if let Some(v) = &patch.role {
        row.role = Set(v.clone());
    }
    if let Some(v) = &patch.allowed_models {
        row.allowed_models = Set(models_to_db(v));
    }
    if let Some(v) = patch.max_tokens {
        row.max_tokens = Set(v);
    }
    if let Some(v) = patch.max_amount_nano {
        row.max_amount_nano = Set(v);
    }
    if let Some(v) = patch.expires_at {
        row.expires_at = Set(v);
    }
    if let Some(v) = patch.enabled {
        row.enabled = Set(v);
    }
    if let Some(v) = patch.rpm {
        row.rpm = Set(v);
    }
    if let Some(v) = patch.tpm {
        row.tpm = Set(v);
    }
    if let Some(v) = patch.max_parallel {
        row.max_parallel = Set(v);
    }
    if let Some(v) = patch.team_id {
        row.team_id = Set(v);
    }
    let new_period = patch
        .budget_period
        .as_ref()
        .filter(|p| **p != existing_period);
    if let Some(v) = new_period {
        row.budget_period = Set(v.clone());
    }
    row.updated_at = Set(super::db_now(db).await?);
    // Only the columns set above are written, so concurrent counter increments survive.
    row.prompt_tokens = sea_orm::ActiveValue::NotSet;
    row.completion_tokens = sea_orm::ActiveValue::NotSet;
    row.total_tokens = sea_orm::ActiveValue::NotSet;
    row.amount_spent_nano = sea_orm::ActiveValue::NotSet;
    row.request_count = sea_orm::ActiveValue::NotSet;
    row.last_used_at = sea_orm::ActiveValue::NotSet;
    row.period_start = sea_orm::ActiveValue::NotSet;
    row.period_tokens = sea_orm::ActiveValue::NotSet;
    row.period_nano = sea_orm::ActiveValue::NotSet;
    let txn = db.begin().await?;
    row.update(&txn).await?;
    if let Some(period) = new_period {
        super::counters::restart_period(&txn, "tokens", id, period == "none").await?;
    }
    txn.commit().await?;
    find(db, id).await
}

/// Marks a token deleted: refused everywhere, kept for its logs and for other instances.
pub async fn soft_delete(db: &DatabaseConnection, id: i32) -> Result<bool, DbErr> {
    use sea_orm::sea_query::Expr;
    let now = super::db_now(db).await?;
    let res = token::Entity::update_many()
        .col_expr(token::Column::DeletedAt, Expr::value(now))
        .col_expr(token::Column::Enabled, Expr::value(false))
        .col_expr(token::Column::UpdatedAt, Expr::value(now))
        .filter(token::Column::Id.eq(id))
        .filter(token::Column::DeletedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Rows whose settings changed (or that were created) at or after `since`, deleted ones
/// included. Usage counters do not count as changes, so this stays small.
pub async fn changed_since(
    db: &DatabaseConnection,
    since: i64,
) -> Result<Vec<token::Model>, DbErr> {
    token::Entity::find()
        .filter(token::Column::UpdatedAt.gte(since))
        .all(db)
        .await
}
