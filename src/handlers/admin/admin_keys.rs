//! `/admin/admin-keys`: the Ed25519 public keys allowed to log in.

use actix_web::{web, HttpRequest, HttpResponse};
use entity::admin_key;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::mailbox;
use crate::actors::admin_gate::{AddAdminKey, ListAdminKeys, RemoveAdminKey};
use crate::error::ApiError;
use crate::handlers::body::json_body;
use crate::handlers::extract::AdminAuth;
use crate::handlers::schemas::ErrorBody;
use crate::state::AppState;
use crate::time::to_rfc3339;

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AdminKeyView {
    pub fingerprint: String,
    pub name: String,
    /// Base64 of the 32-byte public key (public, not a secret).
    pub public_key: String,
    pub enabled: bool,
    pub created_at: String,
}

impl From<&admin_key::Model> for AdminKeyView {
    fn from(k: &admin_key::Model) -> Self {
        AdminKeyView {
            fingerprint: k.fingerprint.clone(),
            name: k.name.clone(),
            public_key: k.public_key.clone(),
            enabled: k.enabled,
            created_at: to_rfc3339(k.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AdminKeyList {
    pub data: Vec<AdminKeyView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAdminKey {
    /// Base64 of the 32-byte Ed25519 public key.
    #[schema(pattern = "^[A-Za-z0-9+/]{43}=$")]
    pub public_key: String,
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct Deleted {
    pub deleted: bool,
}

#[utoipa::path(get, path = "/admin/admin-keys", tag = "admin", security(("bearer" = [])),
    params(super::paging::PageQuery),
    responses((status = 200, body = AdminKeyList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    _: AdminAuth,
    query: web::Query<super::paging::PageQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let keys = state.gate.send(ListAdminKeys).await.map_err(mailbox)??;
    let views: Vec<AdminKeyView> = keys.iter().map(AdminKeyView::from).collect();
    let (data, next_cursor) = super::paging::page(views, |k| k.fingerprint.clone(), &query)?;
    Ok(HttpResponse::Ok().json(AdminKeyList { data, next_cursor }))
}

#[utoipa::path(post, path = "/admin/admin-keys", tag = "admin", security(("bearer" = [])),
    request_body = NewAdminKey,
    responses((status = 201, body = AdminKeyView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Already registered"), (status = 413, body = ErrorBody)))]
pub async fn create(
    admin: AdminAuth,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: NewAdminKey = json_body(&state, &req, payload).await?;
    let name = body.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::invalid_param(
            "name",
            "name must be 1-100 characters",
        ));
    }
    let key = state
        .gate
        .send(AddAdminKey {
            name: name.to_string(),
            public_key: body.public_key,
        })
        .await
        .map_err(mailbox)??;
    let view = AdminKeyView::from(&key);
    admin
        .audit(
            "create",
            format!("admin-key/{}", key.fingerprint),
            None,
            AdminAuth::snapshot(&view),
        )
        .await;
    Ok(HttpResponse::Created().json(view))
}

#[utoipa::path(delete, path = "/admin/admin-keys/{fingerprint}", tag = "admin", security(("bearer" = [])),
    params(("fingerprint" = String, Path, description = "hex SHA-256 of the public key")),
    responses((status = 200, body = Deleted), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "The last key cannot be removed")))]
pub async fn delete(
    admin: AdminAuth,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let fingerprint = path.into_inner();
    let key = state
        .gate
        .send(RemoveAdminKey { fingerprint })
        .await
        .map_err(mailbox)??;
    admin
        .audit(
            "delete",
            format!("admin-key/{}", key.fingerprint),
            AdminAuth::snapshot(&AdminKeyView::from(&key)),
            None,
        )
        .await;
    Ok(HttpResponse::Ok().json(Deleted { deleted: true }))
}
