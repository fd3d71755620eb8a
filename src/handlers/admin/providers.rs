//! `/providers` and `/providers/{name}/keys`.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{double_option, mailbox};
use crate::actors::key_pool::{KeyView, ListKeys};
use crate::actors::provider_registry::{
    AddKey, CreateProvider, DeleteKey, DeleteProvider, UpdateKey, UpdateProvider,
};
use crate::error::ApiError;
use crate::handlers::support::{authenticate_admin, json_body};
use crate::routing::table::ProviderInfo;
use crate::state::AppState;
use crate::store::providers::{
    validate_base_url, validate_models, validate_name, validate_weight, KeyPatch, NewKey,
    NewProvider, ProviderPatch,
};
use crate::time::to_rfc3339;
use crate::upstream::api_type::ApiType;

fn view(p: &ProviderInfo) -> Value {
    let r = &p.record;
    json!({
        "id": r.id,
        "name": r.name,
        "api_type": r.api_type.as_str(),
        "base_url": r.base_url,
        "models": r.models,
        "weight": r.weight,
        "enabled": r.enabled,
        "key_count": p.key_count,
        "enabled_key_count": p.enabled_key_count,
        "created_at": to_rfc3339(r.created_at),
        "updated_at": to_rfc3339(r.updated_at),
    })
}

/// A provider's keys with their health, from its `KeyPool`.
async fn key_views(state: &AppState, provider: &str) -> Result<Vec<KeyView>, ApiError> {
    let pool = state.table().provider(provider)?.pool.clone();
    pool.send(ListKeys).await.map_err(mailbox)
}

fn parse_api_type(text: &str) -> Result<ApiType, ApiError> {
    ApiType::parse(text).ok_or_else(|| {
        ApiError::invalid_param(
            "api_type",
            format!("unknown api_type '{text}': use openai, anthropic, zhipu or deepseek"),
        )
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    api_type: String,
    #[serde(default)]
    base_url: Option<String>,
    #[serde(default)]
    models: Option<Vec<String>>,
    #[serde(default)]
    weight: Option<i64>,
    #[serde(default)]
    enabled: Option<bool>,
}

pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    authenticate_admin(&state, &req).await?;
    let data: Vec<Value> = state.table().providers().map(|p| view(&p.info)).collect();
    Ok(HttpResponse::Ok().json(json!({ "data": data })))
}

pub async fn create(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authenticate_admin(&state, &req).await?;
    let body: CreateBody = json_body(&state, &req, payload).await?;
    validate_name(&body.name)?;
    let api_type = parse_api_type(&body.api_type)?;
    let base_url = validate_base_url(
        body.base_url
            .as_deref()
            .unwrap_or(api_type.default_base_url()),
    )?;
    if let Some(models) = &body.models {
        validate_models(models)?;
    }
    let new = NewProvider {
        name: body.name,
        api_type,
        base_url,
        models: body.models,
        weight: validate_weight(body.weight.unwrap_or(1))?,
        enabled: body.enabled.unwrap_or(true),
    };
    let info: Arc<ProviderInfo> = state
        .registry
        .send(CreateProvider(new))
        .await
        .map_err(mailbox)??;
    Ok(HttpResponse::Created().json(view(&info)))
}

pub async fn get(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authenticate_admin(&state, &req).await?;
    let table = state.table();
    let info = &table.provider(&path)?.info;
    Ok(HttpResponse::Ok().json(view(info)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    #[serde(default)]
    api_type: Option<String>,
    #[serde(default)]
    base_url: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    models: Option<Option<Vec<String>>>,
    #[serde(default)]
    weight: Option<i64>,
    #[serde(default)]
    enabled: Option<bool>,
}

pub async fn update(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authenticate_admin(&state, &req).await?;
    let body: PatchBody = json_body(&state, &req, payload).await?;
    if let Some(Some(models)) = &body.models {
        validate_models(models)?;
    }
    let patch = ProviderPatch {
        api_type: body.api_type.as_deref().map(parse_api_type).transpose()?,
        base_url: body
            .base_url
            .as_deref()
            .map(validate_base_url)
            .transpose()?,
        models: body.models,
        weight: body.weight.map(validate_weight).transpose()?,
        enabled: body.enabled,
    };
    let info = state
        .registry
        .send(UpdateProvider {
            name: path.into_inner(),
            patch,
        })
        .await
        .map_err(mailbox)??;
    Ok(HttpResponse::Ok().json(view(&info)))
}

pub async fn delete(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authenticate_admin(&state, &req).await?;
    let name = path.into_inner();
    state
        .registry
        .send(DeleteProvider { name: name.clone() })
        .await
        .map_err(mailbox)??;
    Ok(HttpResponse::Ok().json(json!({"deleted": true, "name": name})))
}

pub async fn list_keys(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authenticate_admin(&state, &req).await?;
    let keys = key_views(&state, &path).await?;
    Ok(HttpResponse::Ok().json(json!({ "data": keys })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddKeyBody {
    key: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    weight: Option<i64>,
}

pub async fn add_key(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authenticate_admin(&state, &req).await?;
    let body: AddKeyBody = json_body(&state, &req, payload).await?;
    let key = body.key.trim().to_string();
    if key.is_empty() || key.len() > 4096 || key.chars().any(|c| c.is_control()) {
        return Err(ApiError::invalid_param(
            "key",
            "key must be non-empty printable text",
        ));
    }
    let added = state
        .registry
        .send(AddKey {
            provider: path.into_inner(),
            key: NewKey {
                key,
                description: body.description,
                weight: validate_weight(body.weight.unwrap_or(1))?,
            },
        })
        .await
        .map_err(mailbox)??;
    Ok(HttpResponse::Created().json(added))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchKeyBody {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    weight: Option<i64>,
    #[serde(default, deserialize_with = "double_option")]
    description: Option<Option<String>>,
}

fn key_id(text: &str) -> Result<i32, ApiError> {
    text.parse()
        .map_err(|_| ApiError::NotFound(format!("key '{text}' not found")))
}

pub async fn update_key(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authenticate_admin(&state, &req).await?;
    let (provider, id) = path.into_inner();
    let key_id = key_id(&id)?;
    let body: PatchKeyBody = json_body(&state, &req, payload).await?;
    let patch = KeyPatch {
        enabled: body.enabled,
        weight: body.weight.map(validate_weight).transpose()?,
        description: body.description,
    };
    state
        .registry
        .send(UpdateKey {
            provider: provider.clone(),
            key_id,
            patch,
        })
        .await
        .map_err(mailbox)??;
    let key = key_views(&state, &provider)
        .await?
        .into_iter()
        .find(|k| k.id == key_id)
        .ok_or_else(|| ApiError::NotFound(format!("key {key_id} not found")))?;
    Ok(HttpResponse::Ok().json(key))
}

pub async fn delete_key(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authenticate_admin(&state, &req).await?;
    let (provider, id) = path.into_inner();
    let key_id = key_id(&id)?;
    state
        .registry
        .send(DeleteKey { provider, key_id })
        .await
        .map_err(mailbox)??;
    Ok(HttpResponse::Ok().json(json!({"deleted": true, "id": key_id})))
}
