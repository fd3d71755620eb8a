use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "model_redirects")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// Provider name, or `""` for a global redirect.
    pub provider: String,
    pub source: String,
    pub target: String,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
