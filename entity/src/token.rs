use sea_orm::entity::prelude::*;

pub use crate::columns::{ModelList, Role};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tokens")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub name: String,
    /// Hex SHA-256 of the plaintext token; the plaintext is never stored.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// First characters of the token, for display.
    pub token_prefix: String,
    /// `client` or `admin`.
    #[sea_orm(column_type = "String(StringLen::None)")]
    pub role: Role,
    /// JSON array of exact names or `*` globs; `None` allows every model.
    #[sea_orm(column_type = "String(StringLen::None)", nullable)]
    pub allowed_models: Option<ModelList>,
    pub max_tokens: Option<i64>,
    pub max_amount_nano: Option<i64>,
    pub expires_at: Option<i64>,
    pub enabled: bool,
    pub rpm: Option<i32>,
    pub tpm: Option<i32>,
    /// Calls in flight at once (a stream until it ends); `None`: no cap.
    pub max_parallel: Option<i32>,
    /// The team whose limits the token's calls also answer to.
    pub team_id: Option<i32>,
    /// `none` (the budget is for the token's life), `daily`, `weekly`, `monthly` or a
    /// fixed length (`15m`, `1h`, `30d`) from `created_at`.
    pub budget_period: String,
    /// Start (Unix ms) of the period `period_tokens` / `period_nano` count (0 for `none`:
    /// they then equal the lifetime counters).
    pub period_start: i64,
    pub period_tokens: i64,
    pub period_nano: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub amount_spent_nano: i64,
    pub request_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_used_at: Option<i64>,
    /// Set when the token is deleted (rows are kept so logs and other instances see it).
    pub deleted_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
