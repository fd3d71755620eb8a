//! `/admin/model-redirects`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::mailbox;
use crate::actors::provider_registry::{DeleteRedirect, PutRedirect};
use crate::error::ApiError;
use crate::handlers::body::json_body;
use crate::handlers::extract::AdminAuth;
use crate::handlers::schemas::ErrorBody;
use crate::state::AppState;
use crate::store::providers::RedirectRecord;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedirectBody {
    pub source: String,
    /// Required on PUT.
    #[serde(default)]
    pub target: Option<String>,
    /// Only for calls routed to this provider; omit for every provider.
    #[serde(default)]
    pub provider: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct RedirectView {
    pub source: String,
    pub target: String,
    pub provider: Option<String>,
}

impl From<&RedirectRecord> for RedirectView {
    fn from(r: &RedirectRecord) -> Self {
        RedirectView {
            source: r.source.clone(),
            target: r.target.clone(),
            provider: r.provider.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RedirectList {
    pub data: Vec<RedirectView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DeletedRedirect {
    pub deleted: bool,
    pub source: String,
    pub provider: Option<String>,
}

fn check_name(field: &'static str, text: &str) -> Result<String, ApiError> {
    let t = text.trim();
    if t.is_empty() || t.len() > 200 {
        return Err(ApiError::invalid_param(
            field,
            format!("'{field}' must be a model name"),
        ));
    }
    Ok(t.to_string())
}

fn current(state: &AppState, provider: &Option<String>, source: &str) -> Option<serde_json::Value> {
    let table = state.table();
    let found = table
        .redirects()
        .iter()
        .find(|r| &r.provider == provider && r.source == source)
        .map(RedirectView::from)?;
    AdminAuth::snapshot(&found)
}

#[utoipa::path(get, path = "/admin/model-redirects", tag = "admin", security(("bearer" = [])),
    params(super::paging::PageQuery),
    responses((status = 200, body = RedirectList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    _: AdminAuth,
    query: web::Query<super::paging::PageQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let views: Vec<RedirectView> = state
        .table()
        .redirects()
        .iter()
        .map(RedirectView::from)
        .collect();
    let (data, next_cursor) = super::paging::page(
        views,
        |r| format!("{}\u{0}{}", r.provider.as_deref().unwrap_or(""), r.source),
        &query,
    )?;
    Ok(HttpResponse::Ok().json(RedirectList { data, next_cursor }))
}

/// Creates or replaces the redirect for (`provider`, `source`).
#[utoipa::path(put, path = "/admin/model-redirects", tag = "admin", security(("bearer" = [])),
    request_body = RedirectBody,
    responses((status = 200, body = RedirectView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn put(
    admin: AdminAuth,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: RedirectBody = json_body(&state, &req, payload).await?;
    let target = body
        .target
        .as_deref()
        .ok_or_else(|| ApiError::invalid_param("target", "'target' is required"))?;
    let provider = body.provider.filter(|p| !p.is_empty());
    if provider.as_ref().is_some_and(|p| p.len() > 200) {
        return Err(ApiError::invalid_param(
            "provider",
            "provider must be a provider name",
        ));
    }
    let record = RedirectRecord {
        provider,
        source: check_name("source", &body.source)?,
        target: check_name("target", target)?,
    };
    if record.source == record.target {
        return Err(ApiError::invalid_param(
            "target",
            "a model cannot redirect to itself",
        ));
    }
    let before = current(&state, &record.provider, &record.source);
    state
        .registry
        .send(PutRedirect(record.clone()))
        .await
        .map_err(mailbox)??;
    let view = RedirectView::from(&record);
    admin
        .audit(
            if before.is_some() { "update" } else { "create" },
            format!("redirect/{}", record.source),
            before,
            AdminAuth::snapshot(&view),
        )
        .await;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    pub source: Option<String>,
    pub provider: Option<String>,
}

/// Deletes by `?source=…&provider=…` or by a JSON body `{"source","provider"?}`.
#[utoipa::path(delete, path = "/admin/model-redirects", tag = "admin", security(("bearer" = [])),
    params(DeleteQuery),
    responses((status = 200, body = DeletedRedirect), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn delete(
    admin: AdminAuth,
    req: HttpRequest,
    query: web::Query<DeleteQuery>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let (source, provider) = match query.source {
        Some(source) => (source, query.provider),
        None => {
            let body: RedirectBody = json_body(&state, &req, payload).await?;
            (body.source, body.provider)
        }
    };
    let provider = provider.filter(|p| !p.is_empty());
    let before = current(&state, &provider, &source);
    state
        .registry
        .send(DeleteRedirect {
            provider: provider.clone(),
            source: source.clone(),
        })
        .await
        .map_err(mailbox)??;
    admin
        .audit("delete", format!("redirect/{source}"), before, None)
        .await;
    Ok(HttpResponse::Ok().json(DeletedRedirect {
        deleted: true,
        source,
        provider,
    }))
}
