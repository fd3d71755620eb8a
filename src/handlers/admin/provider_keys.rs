//! `/providers/{name}/keys`: a provider's upstream keys with their health; add, change
//! and delete them (the secret is shown masked, never again in full).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{double_option, mailbox};
use crate::actors::provider_registry::{AddKey, DeleteKey, UpdateKey};
use crate::error::ApiError;
use crate::handlers::body::json_body;
use crate::handlers::extract::AdminAuth;
use crate::handlers::schemas::ErrorBody;
use crate::routing::keys::KeyStatus;
use crate::routing::provider_input::validate_weight;
use crate::state::AppState;
use crate::store::provider_keys::{KeyPatch, NewKey};
use crate::time::to_rfc3339;
use entity::provider_key;

/// A key as the admin API shows it: masked, with its health.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KeyView {
    pub id: i32,
    pub masked_key: String,
    pub description: Option<String>,
    pub weight: u32,
    pub enabled: bool,
    pub cooling_down: bool,
    pub cooldown_remaining_secs: u64,
    pub consecutive_failures: u32,
    pub successes: u64,
    pub failures: u64,
    pub last_error: Option<String>,
    pub created_at: String,
}

impl From<KeyStatus> for KeyView {
    fn from(k: KeyStatus) -> KeyView {
        KeyView {
            id: k.id,
            masked_key: k.masked_key,
            description: k.description,
            weight: k.weight,
            enabled: k.enabled,
            cooling_down: k.cooldown_remaining_ms > 0,
            cooldown_remaining_secs: (k.cooldown_remaining_ms as u64).div_ceil(1000),
            consecutive_failures: k.consecutive_failures,
            successes: k.successes,
            failures: k.failures,
            last_error: k.last_error,
            created_at: to_rfc3339(k.created_at),
        }
    }
}

/// A new key as stored: never the secret.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AddedKeyView {
    pub id: i32,
    pub masked_key: String,
    pub description: Option<String>,
    pub weight: i32,
    pub enabled: bool,
}

impl From<&provider_key::Model> for AddedKeyView {
    fn from(k: &provider_key::Model) -> AddedKeyView {
        AddedKeyView {
            id: k.id,
            masked_key: k.masked_key.clone(),
            description: k.description.clone(),
            weight: k.weight,
            enabled: k.enabled,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct KeyList {
    pub data: Vec<KeyView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DeletedKey {
    pub deleted: bool,
    pub id: i32,
}

/// A provider's keys with their health, as its published key set shows them.
async fn key_views(state: &AppState, provider: &str) -> Result<Vec<KeyView>, ApiError> {
    let keys = state.table().provider(provider)?.keys.statuses();
    Ok(keys.into_iter().map(KeyView::from).collect())
}

#[utoipa::path(get, path = "/providers/{name}/keys", tag = "providers", security(("bearer" = [])),
    params(("name" = String, Path), super::paging::PageQuery),
    responses((status = 200, body = KeyList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_keys(
    _: AdminAuth,
    path: web::Path<String>,
    query: web::Query<super::paging::PageQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let views = key_views(&state, &path).await?;
    let (data, next_cursor) = super::paging::page(
        views,
        |k| super::paging::numeric_key(i64::from(k.id)),
        &query,
    )?;
    Ok(HttpResponse::Ok().json(KeyList { data, next_cursor }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyBody {
    /// The upstream API key; stored encrypted, never shown again.
    pub key: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub weight: Option<i64>,
}

#[utoipa::path(post, path = "/providers/{name}/keys", tag = "providers", security(("bearer" = [])),
    params(("name" = String, Path)), request_body = NewKeyBody,
    responses((status = 201, body = AddedKeyView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn add_key(
    admin: AdminAuth,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: NewKeyBody = json_body(&state, &req, payload).await?;
    let key = body.key.trim().to_string();
    if key.is_empty() || key.len() > 4096 || key.chars().any(|c| c.is_control()) {
        return Err(ApiError::invalid_param(
            "key",
            "key must be non-empty printable text",
        ));
    }
    if body.description.as_ref().is_some_and(|d| d.len() > 1000) {
        return Err(ApiError::invalid_param(
            "description",
            "description is at most 1000 bytes",
        ));
    }
    let provider = path.into_inner();
    let added: AddedKeyView = (&state
        .registry
        .send(AddKey {
            provider: provider.clone(),
            key: NewKey {
                key,
                description: body.description,
                weight: validate_weight(body.weight.unwrap_or(1))?,
            },
        })
        .await
        .map_err(mailbox)??)
        .into();
    admin
        .audit(
            "create",
            format!("provider/{provider}/key/{}", added.id),
            None,
            AdminAuth::snapshot(&added),
        )
        .await;
    Ok(HttpResponse::Created().json(added))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyPatchBody {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub weight: Option<i64>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
}

fn key_id(text: &str) -> Result<i32, ApiError> {
    text.parse()
        .map_err(|_| ApiError::NotFound(format!("key '{text}' not found")))
}

async fn key_view(state: &AppState, provider: &str, key_id: i32) -> Result<KeyView, ApiError> {
    key_views(state, provider)
        .await?
        .into_iter()
        .find(|k| k.id == key_id)
        .ok_or_else(|| ApiError::NotFound(format!("key {key_id} not found")))
}

#[utoipa::path(patch, path = "/providers/{name}/keys/{id}", tag = "providers", security(("bearer" = [])),
    params(("name" = String, Path), ("id" = i32, Path)), request_body = KeyPatchBody,
    responses((status = 200, body = KeyView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn update_key(
    admin: AdminAuth,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (provider, id) = path.into_inner();
    let key_id = key_id(&id)?;
    let body: KeyPatchBody = json_body(&state, &req, payload).await?;
    if body
        .description
        .as_ref()
        .is_some_and(|d| d.as_ref().is_some_and(|d| d.len() > 1000))
    {
        return Err(ApiError::invalid_param(
            "description",
            "description is at most 1000 bytes",
        ));
    }
    let patch = KeyPatch {
        enabled: body.enabled,
        weight: body.weight.map(validate_weight).transpose()?,
        description: body.description,
    };
    let before = key_view(&state, &provider, key_id).await.ok();
    state
        .registry
        .send(UpdateKey {
            provider: provider.clone(),
            key_id,
            patch,
        })
        .await
        .map_err(mailbox)??;
    let key = key_view(&state, &provider, key_id).await?;
    admin
        .audit(
            "update",
            format!("provider/{provider}/key/{key_id}"),
            before.as_ref().and_then(AdminAuth::snapshot),
            AdminAuth::snapshot(&key),
        )
        .await;
    Ok(HttpResponse::Ok().json(key))
}

#[utoipa::path(delete, path = "/providers/{name}/keys/{id}", tag = "providers", security(("bearer" = [])),
    params(("name" = String, Path), ("id" = i32, Path)),
    responses((status = 200, body = DeletedKey), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_key(
    admin: AdminAuth,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (provider, id) = path.into_inner();
    let key_id = key_id(&id)?;
    let before = key_view(&state, &provider, key_id).await.ok();
    state
        .registry
        .send(DeleteKey {
            provider: provider.clone(),
            key_id,
        })
        .await
        .map_err(mailbox)??;
    admin
        .audit(
            "delete",
            format!("provider/{provider}/key/{key_id}"),
            before.as_ref().and_then(AdminAuth::snapshot),
            None,
        )
        .await;
    Ok(HttpResponse::Ok().json(DeletedKey {
        deleted: true,
        id: key_id,
    }))
}
