use sea_orm::entity::prelude::*;

pub use crate::columns::ModelList;

/// A team: budgets, rate and concurrency limits and an allow-list its tokens' calls also
/// answer to. Counters as on tokens (lifetime and the current period's).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "teams")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// Unique among teams not deleted.
    pub name: String,
    pub max_tokens: Option<i64>,
    pub max_amount_nano: Option<i64>,
    pub budget_period: String,
    pub rpm: Option<i32>,
    pub tpm: Option<i32>,
    pub max_parallel: Option<i32>,
    #[sea_orm(column_type = "String(StringLen::None)", nullable)]
    pub allowed_models: Option<ModelList>,
    pub enabled: bool,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub amount_spent_nano: i64,
    pub request_count: i64,
    pub period_start: i64,
    pub period_tokens: i64,
    pub period_nano: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
