//! Model redirects: set and removed, globally or for one provider.

use entity::model_redirect;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set};

use super::providers::RedirectRecord;
use crate::time::now_ms;

pub async fn upsert_redirect(db: &DatabaseConnection, r: &RedirectRecord) -> Result<(), DbErr> {
    let row = model_redirect::ActiveModel {
        provider: Set(r.provider.clone().unwrap_or_default()),
        source: Set(r.source.clone()),
        target: Set(r.target.clone()),
        updated_at: Set(now_ms()),
        ..Default::default()
    };
    model_redirect::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                model_redirect::Column::Provider,
                model_redirect::Column::Source,
            ])
            .update_columns([
                model_redirect::Column::Target,
                model_redirect::Column::UpdatedAt,
            ])
            .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

pub async fn delete_redirect(
    db: &DatabaseConnection,
    provider: Option<&str>,
    source: &str,
) -> Result<bool, DbErr> {
    let res = model_redirect::Entity::delete_many()
        .filter(model_redirect::Column::Provider.eq(provider.unwrap_or_default()))
        .filter(model_redirect::Column::Source.eq(source))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}
