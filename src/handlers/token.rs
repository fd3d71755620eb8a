//! `/v1/token/*`: a token's own balance and usage.

use actix_web::{web, HttpRequest, HttpResponse};
use entity::request_log;
use serde::Deserialize;
use serde_json::{json, Value};

use super::admin::mailbox;
use super::support::authenticate;
use crate::accounting::ledger::TokenState;
use crate::actors::log_sink::RecentForToken;
use crate::cli::nano_to_usd;
use crate::error::ApiError;
use crate::state::AppState;
use crate::time::to_rfc3339;

async fn state_of(state: &AppState, req: &HttpRequest) -> Result<TokenState, ApiError> {
    let token = authenticate(state, req).await?;
    state.accounts.state(token.id).ok_or(ApiError::InvalidToken)
}

fn usage_json(s: &TokenState) -> Value {
    json!({
        "total_tokens": s.totals.total_tokens,
        "prompt_tokens": s.totals.prompt_tokens,
        "completion_tokens": s.totals.completion_tokens,
        "amount_spent": nano_to_usd(s.totals.amount_nano),
    })
}

/// `GET /v1/token/balance`
pub async fn balance(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let s = state_of(&state, &req).await?;
    let limits = s.info.limits;
    let balance = limits
        .max_amount_nano
        .map(|max| nano_to_usd((max - s.totals.amount_nano).max(0)));
    let tokens_remaining = limits
        .max_tokens
        .map(|max| (max - s.totals.total_tokens).max(0));
    Ok(HttpResponse::Ok().json(json!({
        "balance": balance,
        "max_amount": limits.max_amount_nano.map(nano_to_usd),
        "max_tokens": limits.max_tokens,
        "tokens_remaining": tokens_remaining,
        "expires_at": s.info.expires_at.map(to_rfc3339),
        "usage": usage_json(&s),
    })))
}

#[derive(Deserialize)]
pub struct UsageQuery {
    limit: Option<u64>,
}

/// One request-log row as a client or admin sees it.
pub fn log_item(r: &request_log::Model) -> Value {
    json!({
        "id": r.id,
        "request_id": r.request_id,
        "created_at": to_rfc3339(r.created_at),
        "endpoint": r.endpoint,
        "requested_model": r.requested_model,
        "model": r.model,
        "provider": r.provider,
        "stream": r.stream,
        "status": r.status,
        "status_code": r.status_code,
        "error_type": r.error_type,
        "prompt_tokens": r.prompt_tokens,
        "completion_tokens": r.completion_tokens,
        "total_tokens": r.total_tokens,
        "cached_tokens": r.cached_tokens,
        "reasoning_tokens": r.reasoning_tokens,
        "amount": nano_to_usd(r.amount_nano),
        "usage_estimated": r.usage_estimated,
        "latency_ms": r.latency_ms,
    })
}

/// `GET /v1/token/usage[?limit=N]`
pub async fn usage(
    req: HttpRequest,
    query: web::Query<UsageQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let s = state_of(&state, &req).await?;
    let mut body = usage_json(&s);
    body["requests"] = json!(s.totals.requests);
    if let Some(limit) = query.limit {
        if !(1..=1000).contains(&limit) {
            return Err(ApiError::invalid_param("limit", "limit must be 1..=1000"));
        }
        let rows = state
            .logs
            .send(RecentForToken {
                token_id: s.info.id,
                limit,
            })
            .await
            .map_err(mailbox)?
            .map_err(|e| ApiError::internal("cannot read request logs", e))?;
        body["items"] = Value::Array(rows.iter().map(log_item).collect());
    }
    Ok(HttpResponse::Ok().json(body))
}
