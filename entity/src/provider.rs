use sea_orm::entity::prelude::*;

pub use crate::columns::ModelList;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "providers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub name: String,
    /// `openai`, `anthropic`, `zhipu` or `deepseek` (lower case).
    pub api_type: String,
    pub base_url: String,
    /// JSON array of exact names or `*` globs; `None` serves any model.
    #[sea_orm(column_type = "String(StringLen::None)", nullable)]
    pub models: Option<ModelList>,
    pub weight: i32,
    pub enabled: bool,
    /// How `/v1/responses` reaches it: `native` or `chat`; null: by base URL.
    pub responses: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::provider_key::Entity")]
    ProviderKey,
}

impl Related<super::provider_key::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ProviderKey.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
