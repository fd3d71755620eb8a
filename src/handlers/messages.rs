//! Anthropic's Messages API for Anthropic-speaking clients (the Anthropic SDK, Claude Code):
//! `POST /v1/messages`, served by any provider type with the same routing, budgets and logs
//! as chat, and `POST /v1/messages/count_tokens`. Errors come in Anthropic's shape.

use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use bytes::Bytes;
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::client::{handle, MAX_COMPLETION_TOKENS, MAX_MODEL_NAME_BYTES};
use super::support::{authenticate, read_body};
use crate::actors::key_pool::KeyOutcome;
use crate::error::ApiError;
use crate::openapi;
use crate::state::AppState;
use crate::upstream::api_type::ApiType;
use crate::upstream::client::UpstreamClient;
use crate::upstream::usage::TextEstimate;
use crate::upstream::{ClientRequest, Endpoint};

/// The fields of a Messages request the gateway checks; the rest passes through.
#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(default)]
    model: Option<Value>,
    #[serde(default)]
    max_tokens: Option<Value>,
    #[serde(default)]
    stream: Option<Value>,
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

/// Checks a Messages request and reads what routing and budgets need.
pub fn parse(req: &HttpRequest, raw: Bytes) -> Result<ClientRequest, ApiError> {
    if raw.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::invalid("request body must be a JSON object"));
    }
    let peek: Peek = serde_json::from_slice(&raw)
        .map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?;
    let model = model_of(peek.model)?;
    let max_tokens = peek
        .max_tokens
        .as_ref()
        .and_then(Value::as_i64)
        .filter(|n| (1..=MAX_COMPLETION_TOKENS).contains(n))
        .ok_or_else(|| {
            ApiError::invalid_param(
                "max_tokens",
                format!("max_tokens: an integer from 1 to {MAX_COMPLETION_TOKENS} is required"),
            )
        })?;
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
    let forwarded_headers = FORWARDED
        .iter()
        .filter_map(|name| {
            let value = req.headers().get(*name)?.to_str().ok()?;
            Some((*name, value.to_string()))
        })
        .collect();
    Ok(ClientRequest {
        prompt_tokens: TextEstimate::of_bytes(&raw).tokens(),
        raw,
        model,
        stream,
        wants_usage_chunk: false,
        client_cap: Some(max_tokens),
        sent_max_tokens: true,
        sent_max_completion_tokens: false,
        n: 1,
        allowance: None,
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
    HttpResponse::build(err.status_code()).json(err.anthropic_body())
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
    match count(&req, payload, &state, &client).await {
        Ok(response) => response,
        Err(err) => error_response(&err),
    }
}

async fn count(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    client: &UpstreamClient,
) -> Result<HttpResponse, ApiError> {
    let token = authenticate(state, req).await?;
    let raw = read_body(req, payload, state.settings.server.max_body_bytes).await?;
    let peek: Peek = serde_json::from_slice(&raw)
        .map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?;
    let model = model_of(peek.model)?;
    if !peek
        .messages
        .is_some_and(|m| m.get().trim_start().starts_with('['))
    {
        return Err(ApiError::invalid_param(
            "messages",
            "'messages' must be an array of messages",
        ));
    }
    let route = state.table().resolve(&model)?;
    let candidate = route
        .candidates
        .iter()
        .find(|c| token.allows(&c.provider.record.name, &route.bare))
        .ok_or_else(|| {
            ApiError::PermissionDenied(format!(
                "this token may not use model '{}'",
                route.requested
            ))
        })?;
    let provider = &candidate.provider.record;
    if provider.api_type == ApiType::Anthropic {
        if let Some(key) = candidate.keys.pick(&[]) {
            let mut body: serde_json::Map<String, Value> = serde_json::from_slice(&raw)
                .map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?;
            body.insert("model".into(), json!(candidate.upstream_model));
            let mut headers = vec![("x-api-key", key.secret.to_string())];
            let version = req
                .headers()
                .get("anthropic-version")
                .and_then(|v| v.to_str().ok())
                .unwrap_or(crate::dialect::anthropic::API_VERSION);
            headers.push(("anthropic-version", version.to_string()));
            if let Some(beta) = req
                .headers()
                .get("anthropic-beta")
                .and_then(|v| v.to_str().ok())
            {
                headers.push(("anthropic-beta", beta.to_string()));
            }
            let url = format!("{}/messages/count_tokens", provider.base_url);
            let body = Bytes::from(Value::Object(body).to_string());
            let failed = |e: String| {
                candidate
                    .keys
                    .report(key.id, KeyOutcome::Failed(None), Some(e.clone()));
                ApiError::UpstreamFailed(format!("provider '{}': {e}", provider.name))
            };
            let response = client
                .post(&url, &headers, body)
                .await
                .map_err(|e| failed(e.to_string()))?;
            let status = actix_web::http::StatusCode::from_u16(response.status().as_u16())
                .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY);
            let body = response
                .into_body()
                .collect()
                .await
                .map(|c| c.to_bytes())
                .map_err(|e| failed(e.to_string()))?;
            // The key's health counts this call like any other (it may have been a probe).
            let outcome = if status.is_success() {
                KeyOutcome::Ok
            } else {
                KeyOutcome::classify(status.as_u16(), &body, None)
            };
            candidate.keys.report(key.id, outcome, None);
            return Ok(HttpResponse::build(status)
                .content_type("application/json")
                .body(body));
        }
    }
    Ok(HttpResponse::Ok().json(json!({"input_tokens": TextEstimate::of_bytes(&raw).tokens()})))
}
