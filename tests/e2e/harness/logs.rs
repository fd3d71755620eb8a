//! Request log rows as the database holds them.

#![allow(dead_code)]

use entity::request_log;
use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder};

pub async fn rows(db: &DatabaseConnection) -> Vec<request_log::Model> {
    request_log::Entity::find()
        .order_by_asc(request_log::Column::Id)
        .all(db)
        .await
        .unwrap_or_default()
}
