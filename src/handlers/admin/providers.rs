//! `/providers`: list, create, read, change and delete providers (their keys:
//! `provider_keys`).

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{double_option, mailbox};
use crate::actors::provider_registry::{CreateProvider, DeleteProvider, UpdateProvider};
use crate::core::api_type::ApiType;
use crate::core::endpoint::Dialect;
use crate::error::ApiError;
use crate::handlers::body::json_body;
use crate::handlers::extract::AdminAuth;
use crate::handlers::schemas::ErrorBody;
use crate::routing::provider_input::{
    validate_base_url, validate_models, validate_name, validate_responses_mode, validate_weight,
};
use crate::routing::table::ProviderInfo;
use crate::state::AppState;
use crate::store::providers::{NewProvider, ProviderPatch};
use crate::time::to_rfc3339;

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ProviderView {
    pub id: i32,
    pub name: String,
    /// `openai`, `anthropic`, `zhipu` or `deepseek`.
    pub api_type: String,
    pub base_url: String,
    /// Exact names or `*` globs; null serves any model.
    pub models: Option<Vec<String>>,
    pub weight: u32,
    pub enabled: bool,
    /// How `/v1/responses` reaches it: `native` (passed through) or `chat` (translated).
    pub responses: String,
    pub key_count: usize,
    pub enabled_key_count: usize,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&ProviderInfo> for ProviderView {
    fn from(p: &ProviderInfo) -> Self {
        let r = &p.record;
        ProviderView {
            id: r.id,
            name: r.name.clone(),
            api_type: r.api_type.as_str().to_string(),
            base_url: r.base_url.clone(),
            models: r.models.clone(),
            weight: r.weight,
            enabled: r.enabled,
            responses: if r.quirks.dialects.contains(&Dialect::Responses) {
                "native"
            } else {
                "chat"
            }
            .to_string(),
            key_count: p.key_count,
            enabled_key_count: p.enabled_key_count,
            created_at: to_rfc3339(r.created_at),
            updated_at: to_rfc3339(r.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ProviderList {
    pub data: Vec<ProviderView>,
}

#[derive(Serialize, ToSchema)]
pub struct DeletedProvider {
    pub deleted: bool,
    pub name: String,
}

fn parse_api_type(text: &str) -> Result<ApiType, ApiError> {
    ApiType::parse(text).ok_or_else(|| {
        ApiError::invalid_param(
            "api_type",
            format!("unknown api_type '{text}': use openai, anthropic, zhipu or deepseek"),
        )
    })
}

fn snapshot_of(state: &AppState, name: &str) -> Option<serde_json::Value> {
    let table = state.table();
    let info = &table.provider(name).ok()?.info;
    AdminAuth::snapshot(&ProviderView::from(info.as_ref()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProviderBody {
    /// Letters, digits, `-`, `_`, `.` (no `/`).
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub name: String,
    /// `openai`, `anthropic`, `zhipu` or `deepseek` (case-insensitive).
    #[schema(
        pattern = "^([Oo][Pp][Ee][Nn][Aa][Ii]|[Aa][Nn][Tt][Hh][Rr][Oo][Pp][Ii][Cc]|[Zz][Hh][Ii][Pp][Uu]|[Dd][Ee][Ee][Pp][Ss][Ee][Ee][Kk])$"
    )]
    pub api_type: String,
    /// Defaults per api_type.
    #[serde(default)]
    /// An `http://` or `https://` URL.
    pub base_url: Option<String>,
    #[serde(default)]
    pub models: Option<Vec<String>>,
    #[serde(default)]
    pub weight: Option<i64>,
    #[serde(default)]
    pub enabled: Option<bool>,
    /// `/v1/responses` on an OpenAI-type provider: `native` (passed through), `chat`
    /// (translated) or `auto` (default: native for api.openai.com).
    #[serde(default)]
    pub responses: Option<String>,
}

#[utoipa::path(get, path = "/providers", tag = "providers", security(("bearer" = [])),
    responses((status = 200, body = ProviderList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(_: AdminAuth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let data = state
        .table()
        .providers()
        .map(|p| ProviderView::from(p.info.as_ref()))
        .collect();
    Ok(HttpResponse::Ok().json(ProviderList { data }))
}

#[utoipa::path(post, path = "/providers", tag = "providers", security(("bearer" = [])),
    request_body = NewProviderBody,
    responses((status = 201, body = ProviderView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn create(
    admin: AdminAuth,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: NewProviderBody = json_body(&state, &req, payload).await?;
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
        responses: body
            .responses
            .as_deref()
            .map(validate_responses_mode)
            .transpose()?
            .flatten(),
    };
    let info: Arc<ProviderInfo> = state
        .registry
        .send(CreateProvider(new))
        .await
        .map_err(mailbox)??;
    let view = ProviderView::from(info.as_ref());
    admin
        .audit(
            "create",
            format!("provider/{}", view.name),
            None,
            AdminAuth::snapshot(&view),
        )
        .await;
    Ok(HttpResponse::Created().json(view))
}

#[utoipa::path(get, path = "/providers/{name}", tag = "providers", security(("bearer" = [])),
    params(("name" = String, Path)),
    responses((status = 200, body = ProviderView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    _: AdminAuth,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let table = state.table();
    let info = &table.provider(&path)?.info;
    Ok(HttpResponse::Ok().json(ProviderView::from(info.as_ref())))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderPatchBody {
    #[serde(default)]
    pub api_type: Option<String>,
    #[serde(default)]
    pub base_url: Option<String>,
    /// null: serve any model.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<String>>)]
    pub models: Option<Option<Vec<String>>>,
    #[serde(default)]
    pub weight: Option<i64>,
    #[serde(default)]
    pub enabled: Option<bool>,
    /// `native`, `chat` or `auto`.
    #[serde(default)]
    pub responses: Option<String>,
}

#[utoipa::path(patch, path = "/providers/{name}", tag = "providers", security(("bearer" = [])),
    params(("name" = String, Path)), request_body = ProviderPatchBody,
    responses((status = 200, body = ProviderView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn update(
    admin: AdminAuth,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: ProviderPatchBody = json_body(&state, &req, payload).await?;
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
        responses: body
            .responses
            .as_deref()
            .map(validate_responses_mode)
            .transpose()?,
    };
    let name = path.into_inner();
    let before = snapshot_of(&state, &name);
    let info = state
        .registry
        .send(UpdateProvider {
            name: name.clone(),
            patch,
        })
        .await
        .map_err(mailbox)??;
    let view = ProviderView::from(info.as_ref());
    admin
        .audit(
            "update",
            format!("provider/{name}"),
            before,
            AdminAuth::snapshot(&view),
        )
        .await;
    Ok(HttpResponse::Ok().json(view))
}

#[utoipa::path(delete, path = "/providers/{name}", tag = "providers", security(("bearer" = [])),
    params(("name" = String, Path)),
    responses((status = 200, body = DeletedProvider), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    admin: AdminAuth,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let name = path.into_inner();
    let before = snapshot_of(&state, &name);
    state
        .registry
        .send(DeleteProvider { name: name.clone() })
        .await
        .map_err(mailbox)??;
    admin
        .audit("delete", format!("provider/{name}"), before, None)
        .await;
    Ok(HttpResponse::Ok().json(DeletedProvider {
        deleted: true,
        name,
    }))
}
