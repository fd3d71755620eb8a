//! The OpenAI-compatible client API: chat completions, embeddings, model listing.

use actix_web::{web, HttpRequest, HttpResponse};

use super::call_flow::handle;
use super::schemas::{self as openapi, ErrorBody};
use crate::core::endpoint::Endpoint;
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
