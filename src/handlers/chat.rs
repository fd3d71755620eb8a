//! The OpenAI-compatible client API: chat completions, embeddings, model listing.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::call_flow::handle;
use super::extract::ClientAuth;
use super::schemas::{self as openapi, ErrorBody};
use crate::core::endpoint::Endpoint;
use crate::error::ApiError;
use crate::state::AppState;
use crate::upstream::http::UpstreamHttp;

/// `POST /v1/chat/completions`
#[utoipa::path(post, path = "/v1/chat/completions", tag = "client", security(("bearer" = [])),
    request_body = openapi::ChatCompletionRequest,
    responses(
        (status = 200, description = "A chat completion, or with `stream: true` server-sent events \
            (`data: {chunk}` … `data: [DONE]`)",
            content((openapi::ChatCompletion = "application/json"), (String = "text/event-stream"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 502, body = ErrorBody), (status = 503, body = ErrorBody), (status = 504, body = ErrorBody),
    ))]
pub async fn chat_completions(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<UpstreamHttp>,
) -> HttpResponse {
    handle(Endpoint::ChatCompletions, req, payload, state, client).await
}

/// `POST /v1/embeddings`
#[utoipa::path(post, path = "/v1/embeddings", tag = "client", security(("bearer" = [])),
    request_body = openapi::EmbeddingsRequest,
    responses(
        (status = 200, body = openapi::Embeddings),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 502, body = ErrorBody), (status = 503, body = ErrorBody), (status = 504, body = ErrorBody),
    ))]
pub async fn embeddings(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<UpstreamHttp>,
) -> HttpResponse {
    handle(Endpoint::Embeddings, req, payload, state, client).await
}

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

/// `GET /v1/models`: the models this token may use.
#[utoipa::path(get, path = "/v1/models", tag = "client", security(("bearer" = [])),
    responses((status = 200, body = ModelList), (status = 401, body = ErrorBody)))]
pub async fn models(
    ClientAuth(token): ClientAuth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let data = state
        .table()
        .models()
        .into_iter()
        .filter(|m| token.allows(&m.provider, &m.model))
        .map(|m| ModelEntry {
            id: m.id,
            object: "model".into(),
            created: 0,
            owned_by: m.provider,
        })
        .collect();
    Ok(HttpResponse::Ok().json(ModelList {
        object: "list".into(),
        data,
    }))
}
