//! What every handler needs: bearer authentication, bounded body reading, JSON parsing.

use std::sync::Arc;

use actix_web::{web, HttpRequest};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use serde::de::DeserializeOwned;

use crate::accounting::token::TokenInfo;
use crate::actors::usage_ledger::Authenticate;
use crate::error::ApiError;
use crate::secrets::hash_token;
use crate::state::AppState;
use crate::time::now_ms;

/// The token from `Authorization: Bearer …` (or `x-api-key`, as Anthropic clients send it).
pub fn presented_token(req: &HttpRequest) -> Option<&str> {
    if let Some(value) = req.headers().get("authorization") {
        let text = value.to_str().ok()?;
        let (scheme, token) = text.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|t| !t.is_empty());
    }
    req.headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// A usable (enabled, unexpired) token, or the contract's 401. Known tokens are answered
/// from the ledger's shared state; only unknown ones go to the ledger actor.
///
/// Junk costs nothing durable: an unknown token is remembered as unknown for a few seconds,
/// database look-ups of unknown tokens are rate-limited (past the rate they are answered
/// 401 at once; new tokens still arrive through the cluster sync) and coalesced by the
/// ledger, and 401s are counted instead of logged one row each.
pub async fn authenticate(state: &AppState, req: &HttpRequest) -> Result<Arc<TokenInfo>, ApiError> {
    let result = find_token(state, req).await;
    if result.as_ref().is_err_and(ApiError::is_authentication) {
        state.accounts.count_rejected();
    }
    result
}

async fn find_token(state: &AppState, req: &HttpRequest) -> Result<Arc<TokenInfo>, ApiError> {
    let token = presented_token(req).ok_or(ApiError::InvalidToken)?;
    let hash = hash_token(token);
    let now = now_ms();
    let accounts = &state.accounts;
    let info = match accounts.lookup(&hash) {
        Some(info) => info,
        None if accounts.known_unknown(&hash, now) || !accounts.take_lookup_permit() => {
            return Err(ApiError::InvalidToken)
        }
        None => state
            .ledger
            .send(Authenticate { token_hash: hash })
            .await
            .map_err(|e| ApiError::internal("usage ledger unavailable", e))??,
    };
    info.check_usable(now)?;
    Ok(info)
}

/// Reads the whole body, refusing it with 413 as soon as it passes `limit`.
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(1024).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::invalid(format!("cannot read body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Parses a JSON body into `T`, with a 400 that says what is wrong.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid("request body must be a JSON object"));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))
}

/// Reads and parses a JSON object body in one step (admin routes). Only an object: serde
/// would otherwise read a struct from an array (`[null, null]` as an empty patch).
pub async fn json_body<T: DeserializeOwned>(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, ApiError> {
    let body = read_body(req, payload, state.settings.server.max_body_bytes).await?;
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::invalid("request body must be a JSON object"));
    }
    parse_json(&body)
}

/// Like `json_body`, for the routes that also take an array (bulk prices).
pub async fn json_body_or_array<T: DeserializeOwned>(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, ApiError> {
    let body = read_body(req, payload, state.settings.server.max_body_bytes).await?;
    parse_json(&body)
}

/// The request's id (set by the `request_ids` middleware), for logs.
#[derive(Clone)]
pub struct RequestId(pub Arc<str>);

pub fn request_id(req: &HttpRequest) -> Arc<str> {
    use actix_web::HttpMessage;
    req.extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_else(|| Arc::from("req_unknown"))
}

/// A client's own `x-request-id` is kept when it is a sane id: 1..=128 characters of
/// `[A-Za-z0-9._:-]` (no spaces, nothing a log reader could be fooled by).
fn client_request_id(req: &actix_web::dev::ServiceRequest) -> Option<Arc<str>> {
    let value = req.headers().get("x-request-id")?.to_str().ok()?.trim();
    let sane = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
    sane.then(|| Arc::from(value))
}

/// Middleware: gives every request an id — the client's `x-request-id` if it sent a sane
/// one, else a new one — returned as `x-request-id`, stored in the request log and in every
/// log line of the call; logs the hidden detail of a 500 with it (the client sees only the
/// generic message); counts requests per route pattern for Prometheus.
pub async fn request_ids(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    use actix_web::HttpMessage;
    use rand::Rng;
    let started = std::time::Instant::now();
    let id: Arc<str> = client_request_id(&req)
        .unwrap_or_else(|| Arc::from(format!("req_{:016x}", rand::thread_rng().gen::<u64>())));
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut res = next.call(req).await?;
    if let Some(ApiError::Internal { context, detail }) = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
    {
        metrics::counter!("gateway_internal_errors_total").increment(1);
        log::error!(
            "{id} {} {}: {context}: {detail}",
            res.request().method(),
            res.request().path()
        );
    }
    let route = res.request().match_pattern();
    crate::telemetry::record_http(
        route.as_deref().unwrap_or("unmatched"),
        res.request().method().as_str(),
        res.status().as_u16(),
        started.elapsed(),
    );
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&id) {
        res.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("x-request-id"),
            value,
        );
    }
    Ok(res)
}
