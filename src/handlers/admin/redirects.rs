//! `/admin/model-redirects`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::mailbox;
use crate::actors::provider_registry::{DeleteRedirect, PutRedirect};
use crate::error::ApiError;
use crate::handlers::support::{authenticate_admin, json_body};
use crate::state::AppState;
use crate::store::providers::RedirectRecord;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RedirectBody {
    source: String,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    provider: Option<String>,
}

fn view(r: &RedirectRecord) -> serde_json::Value {
    json!({"source": r.source, "target": r.target, "provider": r.provider})
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

pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    authenticate_admin(&state, &req).await?;
    let data: Vec<_> = state.table().redirects().iter().map(view).collect();
    Ok(HttpResponse::Ok().json(json!({ "data": data })))
}

/// Creates or replaces the redirect for (`provider`, `source`).
pub async fn put(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authenticate_admin(&state, &req).await?;
    let body: RedirectBody = json_body(&state, &req, payload).await?;
    let target = body
        .target
        .as_deref()
        .ok_or_else(|| ApiError::invalid_param("target", "'target' is required"))?;
    let record = RedirectRecord {
        provider: body.provider.filter(|p| !p.is_empty()),
        source: check_name("source", &body.source)?,
        target: check_name("target", target)?,
    };
    if record.source == record.target {
        return Err(ApiError::invalid_param(
            "target",
            "a model cannot redirect to itself",
        ));
    }
    state
        .registry
        .send(PutRedirect(record.clone()))
        .await
        .map_err(mailbox)??;
    Ok(HttpResponse::Ok().json(view(&record)))
}

#[derive(Deserialize)]
pub struct DeleteQuery {
    source: Option<String>,
    provider: Option<String>,
}

/// Deletes by `?source=…&provider=…` or by a JSON body `{"source","provider"?}`.
pub async fn delete(
    req: HttpRequest,
    query: web::Query<DeleteQuery>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authenticate_admin(&state, &req).await?;
    let query = query.into_inner();
    let (source, provider) = match query.source {
        Some(source) => (source, query.provider),
        None => {
            let body: RedirectBody = json_body(&state, &req, payload).await?;
            (body.source, body.provider)
        }
    };
    let provider = provider.filter(|p| !p.is_empty());
    state
        .registry
        .send(DeleteRedirect {
            provider: provider.clone(),
            source: source.clone(),
        })
        .await
        .map_err(mailbox)??;
    Ok(HttpResponse::Ok().json(json!({"deleted": true, "source": source, "provider": provider})))
}
