//! `/admin/audit`: every admin change, newest first.

use actix_web::{web, HttpResponse};
use entity::audit_log;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::handlers::extract::AdminAuth;
use crate::handlers::schemas::ErrorBody;
use crate::state::AppState;
use crate::time::to_rfc3339;

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct AuditView {
    pub id: i64,
    pub created_at: String,
    /// `token:<id>` or `key:<fingerprint>`.
    pub actor: String,
    /// `create`, `update`, `delete`, `login`, `logout`.
    pub action: String,
    pub resource: String,
    /// The resource's admin view before the change (secrets masked).
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub request_id: String,
}

impl From<&audit_log::Model> for AuditView {
    fn from(r: &audit_log::Model) -> Self {
        let parse = |t: &Option<String>| t.as_deref().and_then(|t| serde_json::from_str(t).ok());
        AuditView {
            id: r.id,
            created_at: to_rfc3339(r.created_at),
            actor: r.actor.clone(),
            action: r.action.clone(),
            resource: r.resource.clone(),
            before: parse(&r.before),
            after: parse(&r.after),
            request_id: r.request_id.clone(),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// 1..=1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AuditList {
    pub data: Vec<AuditView>,
    pub next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/admin/audit", tag = "admin", security(("bearer" = [])),
    params(AuditQuery),
    responses((status = 200, body = AuditList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    _: AdminAuth,
    query: web::Query<AuditQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid_param("limit", "limit must be 1..=1000"));
    }
    let before_id = query
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| ApiError::invalid_param("cursor", "invalid cursor"))
        })
        .transpose()?;
    // A read of committed rows: the store answers it (the LogSink writes audit rows at
    // once, so there is nothing buffered to wait for).
    let (rows, next) = crate::store::audit::page(&state.db, before_id, limit)
        .await
        .map_err(|e| ApiError::internal("cannot read the audit trail", e))?;
    Ok(HttpResponse::Ok().json(AuditList {
        data: rows.iter().map(AuditView::from).collect(),
        next_cursor: next.map(|id| id.to_string()),
    }))
}
