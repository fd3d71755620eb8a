use sea_orm::entity::prelude::*;

/// One admin change: who made it, what, and the resource before and after (secrets masked).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub created_at: i64,
    /// `token:<id>` or `key:<fingerprint>`.
    pub actor: String,
    /// `create`, `update`, `delete`, `login`, `logout`.
    pub action: String,
    /// e.g. `provider/my-openai`, `token/12`, `provider/my-openai/key/3`.
    pub resource: String,
    /// JSON of the admin view before the change (secrets masked), if it existed.
    pub before: Option<String>,
    pub after: Option<String>,
    pub request_id: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
