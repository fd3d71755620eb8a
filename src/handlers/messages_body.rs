//! Anthropic Messages request bodies (`/v1/messages`, `/v1/messages/count_tokens`): checked,
//! and what routing and budgets need read; and errors in Anthropic's shape.

use actix_web::HttpRequest;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::chat_body::{optional_bool, unpriced_tier, MAX_COMPLETION_TOKENS, MAX_MODEL_NAME_BYTES};
use crate::error::ApiError;
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
    #[serde(default)]
    metadata: Option<Value>,
    #[serde(default, borrow)]
    messages: Option<&'a RawValue>,
}

/// `anthropic-*` headers kept for an Anthropic upstream, at most (each value counts).
const MAX_FORWARDED: usize = 32;

/// The `anthropic-*` headers an Anthropic client sent, every value of each (an Anthropic
/// upstream on a pass-through leg gets them all; contract: an open list).
fn anthropic_headers(req: &HttpRequest) -> Vec<(http::HeaderName, String)> {
    let mut headers: Vec<(http::HeaderName, String)> = req
        .headers()
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("anthropic-"))
        .filter_map(|(name, value)| {
            // The two every Anthropic client sends are static names (no copy per call).
            let name = match name.as_str() {
                "anthropic-version" => http::HeaderName::from_static("anthropic-version"),
                "anthropic-beta" => http::HeaderName::from_static("anthropic-beta"),
                other => http::HeaderName::from_bytes(other.as_bytes()).ok()?,
            };
            Some((name, value.to_str().ok()?.to_string()))
        })
        .take(MAX_FORWARDED)
        .collect();
    // The map's order is a hash's: sent in name order (a name's values keep theirs).
    headers.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
    headers
}

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
    let stream = optional_bool(peek.stream, "stream", "stream: must be a boolean")?;
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
    let unpriced_tier = unpriced_tier(peek.service_tier)?;
    let forwarded_headers = anthropic_headers(req);
    let user_id = peek.metadata.as_ref().and_then(|m| m.get("user_id"));
    let end_user = super::who::from_body(&[user_id]);
    Ok(ClientRequest {
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
        end_user,
        ..ClientRequest::default()
    })
}
