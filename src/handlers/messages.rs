//! Anthropic's Messages API for Anthropic-speaking clients (the Anthropic SDK, Claude Code):
//! `POST /v1/messages`, served by any provider type with the same routing, budgets and logs
//! as chat, and `POST /v1/messages/count_tokens`. Errors come in Anthropic's shape.

use actix_web::{web, HttpRequest, HttpResponse};

use super::call_flow::handle;
use crate::core::endpoint::Endpoint;
use crate::handlers::schemas as openapi;
use crate::state::AppState;
use crate::upstream::http::UpstreamHttp;

/// `POST /v1/messages`.
#[utoipa::path(post, path = "/v1/messages", tag = "client", security(("bearer" = []), ("x_api_key" = [])),
    request_body = openapi::MessagesRequest,
    responses(
        (status = 200, description = "An Anthropic message, or with `stream: true` Anthropic's event stream",
            content((openapi::Message = "application/json"), (String = "text/event-stream"))),
        (status = 400, body = openapi::AnthropicError), (status = 401, body = openapi::AnthropicError),
        (status = 403, body = openapi::AnthropicError), (status = 404, body = openapi::AnthropicError),
        (status = 413, body = openapi::AnthropicError), (status = 429, body = openapi::AnthropicError),
        (status = 502, body = openapi::AnthropicError), (status = 503, body = openapi::AnthropicError),
        (status = 504, body = openapi::AnthropicError),
    ))]
pub async fn messages(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<UpstreamHttp>,
) -> HttpResponse {
    handle(Endpoint::Messages, req, payload, state, client).await
}

/// `POST /v1/messages/count_tokens`: asked of the Anthropic provider that would serve the
/// model, estimated (prompt-size estimate) when the model is served by another type.
#[utoipa::path(post, path = "/v1/messages/count_tokens", tag = "client", security(("bearer" = []), ("x_api_key" = [])),
    request_body = openapi::CountTokensRequest,
    responses(
        (status = 200, body = openapi::TokenCount),
        (status = 400, body = openapi::AnthropicError), (status = 401, body = openapi::AnthropicError),
        (status = 403, body = openapi::AnthropicError), (status = 404, body = openapi::AnthropicError),
        (status = 413, body = openapi::AnthropicError), (status = 429, body = openapi::AnthropicError),
        (status = 502, body = openapi::AnthropicError), (status = 503, body = openapi::AnthropicError),
        (status = 504, body = openapi::AnthropicError),
    ))]
pub async fn count_tokens(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<UpstreamHttp>,
) -> HttpResponse {
    handle(Endpoint::CountTokens, req, payload, state, client).await
}
