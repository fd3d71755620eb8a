use sea_orm::entity::prelude::*;

/// A Responses-API response kept for `previous_response_id`, `GET /v1/responses/{id}` and
/// its input items. The conversation (`input`, `response`) is encrypted with the master
/// key: it may hold anything a user or a model wrote.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "stored_responses")]
pub struct Model {
    /// `resp_…`, the gateway's or a native upstream's.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The token that created it: only it may read, continue or delete it.
    pub token_id: i32,
    /// The response this one continues.
    pub previous_id: Option<String>,
    /// This call's own input items (JSON array), encrypted.
    #[sea_orm(column_type = "Text")]
    pub input: String,
    /// The response object (JSON), encrypted.
    #[sea_orm(column_type = "Text")]
    pub response: String,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
