//! The audit trail: one row per admin change, newest first.

use entity::audit_log;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

/// An admin change about to be recorded. `before`/`after` are admin views (secrets masked).
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub actor: String,
    pub action: &'static str,
    pub resource: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub request_id: String,
}

pub async fn insert(db: &DatabaseConnection, e: AuditEntry, now: i64) -> Result<(), DbErr> {
    audit_log::ActiveModel {
        created_at: Set(now),
        actor: Set(e.actor),
        action: Set(e.action.to_string()),
        resource: Set(e.resource),
        before: Set(e.before.map(|v| v.to_string())),
        after: Set(e.after.map(|v| v.to_string())),
        request_id: Set(e.request_id),
        ..Default::default()
    }
    .insert(db)
    .await
    .map(|_| ())
}

/// Up to `limit` entries older than `before_id` (newest first) and the next cursor.
pub async fn page(
    db: &DatabaseConnection,
    before_id: Option<i64>,
    limit: u64,
) -> Result<(Vec<audit_log::Model>, Option<i64>), DbErr> {
    let mut q = audit_log::Entity::find();
    if let Some(id) = before_id {
        q = q.filter(audit_log::Column::Id.lt(id));
    }
    let mut rows = q
        .order_by_desc(audit_log::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let next = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.id)
    } else {
        None
    };
    Ok((rows, next))
}
