//! Anthropic's Messages API for Anthropic-speaking clients (the Anthropic SDK, Claude Code):
//! `POST /v1/messages`, served by any provider type with the same routing, budgets and logs
//! as chat, and `POST /v1/messages/count_tokens`. Errors come in Anthropic's shape.

use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::client::{handle, MAX_COMPLETION_TOKENS, MAX_MODEL_NAME_BYTES};
use crate::call::CallRecord;
use crate::core::endpoint::Endpoint;
use crate::core::usage::TextEstimate;
use crate::core::usage::Usage;
use crate::error::ApiError;
use crate::openapi;
use crate::proxy;
use crate::routing::table::Route;
use crate::state::AppState;
use crate::upstream::client::UpstreamClient;
use crate::upstream::ClientRequest;

/// The fields of a Messages request the gateway checks; the rest passes through.
#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(default)]
    model: Option<Value>,
    #[serde(default)]
    max_tokens: Option<Value>,
    #[serde(default)]
    stream: Option<Value>,
    #[serde(default)]
    service_tier: Option<Value>,
    #[serde(default, borrow)]
    messages: Option<&'a RawValue>,
}

/// Headers of Anthropic clients that an Anthropic upstream must see too.
const FORWARDED: [&str; 2] = ["anthropic-version", "anthropic-beta"];

fn model_of(value: Option<Value>) -> Result<String, ApiError> {
    match value {
        Some(Value::String(s)) if s.len() > MAX_MODEL_NAME_BYTES => Err(ApiError::invalid_param(
            "model",
            format!("model: longer than {MAX_MODEL_NAME_BYTES} bytes"),
        )),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        _ => Err(ApiError::invalid_param(
            "model",
            "model: a non-empty string is required",
        )),
    }
}

/// Checks a Messages request (`generates`: `/v1/messages`, which needs `max_tokens`; else
/// `/v1/messages/count_tokens`) and reads what routing and budgets need.
pub fn parse(req: &HttpRequest, raw: Bytes, generates: bool) -> Result<ClientRequest, ApiError> {
    if raw.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::invalid("request body must be a JSON object"));
    }
    let peek: Peek = serde_json::from_slice(&raw)
        .map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?;
    let model = model_of(peek.model)?;
    let max_tokens = match peek.max_tokens.as_ref() {
        None | Some(Value::Null) if !generates => None,
        value => Some(
            value
                .and_then(Value::as_i64)
                .filter(|n| (1..=MAX_COMPLETION_TOKENS).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid_param(
                        "max_tokens",
                        format!(
                            "max_tokens: an integer from 1 to {MAX_COMPLETION_TOKENS} is required"
                        ),
                    )
                })?,
        ),
    };
    let stream = match peek.stream {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(_) => {
            return Err(ApiError::invalid_param(
                "stream",
                "stream: must be a boolean",
            ))
        }
    };
    let messages = peek
        .messages
        .map(|m| m.get().trim_start())
        .filter(|m| m.starts_with('['))
        .ok_or_else(|| ApiError::invalid_param("messages", "messages: an array is required"))?;
    if messages[1..].trim_start().starts_with(']') {
        return Err(ApiError::invalid_param(
            "messages",
            "messages: at least one message is required",
        ));
    }
    let unpriced_tier = super::client::unpriced_tier(peek.service_tier)?;
    let bound = crate::accounting::prompt_bound::prompt_bound(&raw, &model);
    let forwarded_headers = FORWARDED
        .iter()
        .filter_map(|name| {
            let value = req.headers().get(*name)?.to_str().ok()?;
            Some((*name, value.to_string()))
        })
        .collect();
    Ok(ClientRequest {
        prompt_tokens: bound.tokens,
        unbounded: bound.unbounded,
        raw,
        model,
        stream,
        wants_usage_chunk: false,
        client_cap: max_tokens,
        sent_max_tokens: max_tokens.is_some(),
        sent_max_completion_tokens: false,
        n: 1,
        allowance: None,
        unpriced_tier,
        forwarded_headers,
    })
}

/// An error in Anthropic's shape. An Anthropic upstream's own error body goes through as
/// it is; anything else is rendered from the gateway's error.
pub fn error_response(err: &ApiError) -> HttpResponse {
    if let ApiError::Upstream { status, body } = err {
        let native = serde_json::from_slice::<Value>(body).is_ok_and(|v| v["type"] == "error");
        if native {
            return HttpResponse::build(*status)
                .content_type("application/json")
                .body(body.clone());
        }
    }
    let mut builder = HttpResponse::build(err.status_code());
    if let Some(secs) = err.retry_after_secs() {
        builder.insert_header(("retry-after", secs.to_string()));
    }
    builder.json(err.anthropic_body())
}

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
    client: web::Data<UpstreamClient>,
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
    client: web::Data<UpstreamClient>,
) -> HttpResponse {
    handle(Endpoint::CountTokens, req, payload, state, client).await
}

/// Counts a prompt once admission passed it: asked of the Anthropic providers that serve the
/// model through the same attempt loop as any call (key choice, timeouts, body limit,
/// failover), else — another provider type, or every Anthropic key cooling — estimated
/// here. Logged as `count_tokens`, at no cost.
pub async fn count(
    state: &AppState,
    client: &UpstreamClient,
    rec: &mut Option<CallRecord>,
    req: ClientRequest,
    mut route: Route,
) -> Result<HttpResponse, ApiError> {
    let raw = req.raw.clone();
    route
        .candidates
        .retain(|c| c.provider.record.api_type.serves(Endpoint::CountTokens));
    if !route.candidates.is_empty() {
        match proxy::forward(state, client, rec, Endpoint::CountTokens, req, route).await {
            Err(ApiError::NoUpstream(_) | ApiError::Cooling { .. }) => {}
            answered => return answered,
        }
    }
    if let Some(mut record) = rec.take() {
        record.set_usage_or_estimate(Some(Usage::default()), 0, 0);
        record.finish(200);
    }
    Ok(HttpResponse::Ok().json(json!({"input_tokens": TextEstimate::of_bytes(&raw).tokens()})))
}
