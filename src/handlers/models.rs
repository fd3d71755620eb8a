//! `GET /v1/models`: the models a token (and its team) may use — names the providers list,
//! priced names their `*` patterns match, and redirect sources — in OpenAI's list shape,
//! or in Anthropic's (`type: model`, `has_more`, `first_id`, `last_id`, paged by `limit`
//! and `after_id` / `before_id`) for Anthropic clients (an `anthropic-version` header), as
//! Claude Code's model discovery asks with only `x-api-key`.

use std::collections::BTreeMap;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::ClientAuth;
use crate::error::ApiError;
use crate::handlers::schemas::ErrorBody;
use crate::state::AppState;

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ModelEntry {
    /// `provider/model`, or the bare name where a model is served.
    pub id: String,
    /// Always `model`.
    pub object: String,
    pub created: i64,
    /// The provider's name.
    pub owned_by: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ModelList {
    /// Always `list`.
    pub object: String,
    pub data: Vec<ModelEntry>,
}

/// A model in Anthropic's list shape.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct AnthropicModel {
    /// Always `model`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub display_name: String,
    /// RFC 3339 (the gateway does not know release dates: the epoch).
    pub created_at: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AnthropicModelList {
    pub data: Vec<AnthropicModel>,
    pub has_more: bool,
    pub first_id: Option<String>,
    pub last_id: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ModelQuery {
    /// Anthropic shape: models per page, 1..=1000 (default 20).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Anthropic shape: the page after this id.
    pub after_id: Option<String>,
    /// Anthropic shape: the page before this id.
    pub before_id: Option<String>,
}

/// Every model the token may use, by id (id → provider), sorted.
fn allowed(state: &AppState, token: &ClientAuth) -> BTreeMap<String, String> {
    let table = state.table();
    let team = token.0.team_id.and_then(|id| state.accounts.team(id));
    let may = |provider: &str, model: &str| {
        token.0.allows(provider, model) && team.as_ref().is_none_or(|t| t.allows(provider, model))
    };
    let mut out = BTreeMap::new();
    for m in table.models() {
        if may(&m.provider, &m.model) {
            out.entry(m.id).or_insert(m.provider);
        }
    }
    for (provider, pattern) in table.model_patterns() {
        for name in state.accounts.priced_matching(&provider, &pattern) {
            if may(&provider, &name) {
                out.entry(format!("{provider}/{name}"))
                    .or_insert(provider.clone());
                out.entry(name).or_insert(provider.clone());
            }
        }
    }
    out
}

/// `GET /v1/models`: the models this token may use.
#[utoipa::path(get, path = "/v1/models", tag = "client", security(("bearer" = [])),
    params(ModelQuery),
    responses((status = 200, body = ModelList, description = "OpenAI's list; Anthropic's (`AnthropicModelList`) when the request has an `anthropic-version` header"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn models(
    req: HttpRequest,
    token: ClientAuth,
    query: web::Query<ModelQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if query.limit.is_some_and(|l| !(1..=1000).contains(&l)) {
        return Err(ApiError::invalid_param("limit", "limit must be 1..=1000"));
    }
    let models = allowed(&state, &token);
    if req.headers().contains_key("anthropic-version") {
        return anthropic(models, &query);
    }
    let data = models
        .into_iter()
        .map(|(id, provider)| ModelEntry {
            id,
            object: "model".into(),
            created: 0,
            owned_by: provider,
        })
        .collect();
    Ok(HttpResponse::Ok().json(ModelList {
        object: "list".into(),
        data,
    }))
}

fn anthropic(models: BTreeMap<String, String>, q: &ModelQuery) -> Result<HttpResponse, ApiError> {
    let limit = q.limit.unwrap_or(20);
    let ids: Vec<&String> = models.keys().collect();
    let (from, to) = match (&q.after_id, &q.before_id) {
        (Some(after), _) => {
            let start = ids.partition_point(|id| id.as_str() <= after.as_str());
            (start, (start + limit as usize).min(ids.len()))
        }
        (None, Some(before)) => {
            let end = ids.partition_point(|id| id.as_str() < before.as_str());
            (end.saturating_sub(limit as usize), end)
        }
        (None, None) => (0, (limit as usize).min(ids.len())),
    };
    let page: Vec<AnthropicModel> = ids[from..to]
        .iter()
        .map(|id| AnthropicModel {
            kind: "model".into(),
            id: (*id).clone(),
            display_name: (*id).clone(),
            created_at: "1970-01-01T00:00:00Z".into(),
        })
        .collect();
    let has_more = if q.before_id.is_some() && q.after_id.is_none() {
        from > 0
    } else {
        to < ids.len()
    };
    Ok(HttpResponse::Ok().json(AnthropicModelList {
        first_id: page.first().map(|m| m.id.clone()),
        last_id: page.last().map(|m| m.id.clone()),
        has_more,
        data: page,
    }))
}
