//! `/v1/token/*`: a token's own balance and usage.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::admin::logs::LogView;
use super::admin::mailbox;
use super::extract::ClientAuth;
use crate::accounting::ledger::TokenState;
use crate::actors::log_sink::RecentForToken;
use crate::actors::usage_ledger::RefreshTotals;

use crate::core::money::Money;
use crate::error::ApiError;
use crate::handlers::schemas::ErrorBody;
use crate::state::AppState;
use crate::time::to_rfc3339;

/// A token's live state; with several instances (Postgres) its counters include the
/// others' usage, read from the database at most one sync interval ago.
async fn state_of(state: &AppState, token: &ClientAuth) -> Result<TokenState, ApiError> {
    if !state.settings.is_sqlite() {
        state
            .ledger
            .send(RefreshTotals(token.0.id))
            .await
            .map_err(mailbox)?;
    }
    state
        .accounts
        .state(token.0.id)
        .ok_or(ApiError::InvalidToken)
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct UsageTotals {
    pub total_tokens: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    /// USD.
    pub amount_spent: f64,
}

fn totals(s: &TokenState) -> UsageTotals {
    UsageTotals {
        total_tokens: s.totals.total_tokens,
        prompt_tokens: s.totals.prompt_tokens,
        completion_tokens: s.totals.completion_tokens,
        amount_spent: s.totals.amount.usd(),
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Balance {
    /// USD left: max_amount − amount_spent; null without a money budget.
    pub balance: Option<f64>,
    pub max_amount: Option<f64>,
    pub max_tokens: Option<i64>,
    pub tokens_remaining: Option<i64>,
    pub expires_at: Option<String>,
    pub usage: UsageTotals,
}

/// `GET /v1/token/balance`
#[utoipa::path(get, path = "/v1/token/balance", tag = "client", security(("bearer" = [])),
    responses((status = 200, body = Balance), (status = 401, body = ErrorBody)))]
pub async fn balance(
    token: ClientAuth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let s = state_of(&state, &token).await?;
    let limits = s.info.limits;
    Ok(HttpResponse::Ok().json(Balance {
        balance: limits
            .max_amount
            .map(|max| max.left_after(s.totals.amount).usd()),
        max_amount: limits.max_amount.map(Money::usd),
        max_tokens: limits.max_tokens,
        tokens_remaining: limits
            .max_tokens
            .map(|max| (max - s.totals.total_tokens).max(0)),
        expires_at: s.info.expires_at.map(to_rfc3339),
        usage: totals(&s),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// Adds the newest N (1..=1000) requests of this token as `items`.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u64>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Usage {
    #[serde(flatten)]
    pub totals: UsageTotals,
    pub requests: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<LogView>>,
}

/// `GET /v1/token/usage[?limit=N]`
#[utoipa::path(get, path = "/v1/token/usage", tag = "client", security(("bearer" = [])),
    params(UsageQuery),
    responses((status = 200, body = Usage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn usage(
    token: ClientAuth,
    query: web::Query<UsageQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let s = state_of(&state, &token).await?;
    let items = match query.limit {
        None => None,
        Some(limit) => {
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
            Some(rows.iter().map(LogView::from).collect())
        }
    };
    Ok(HttpResponse::Ok().json(Usage {
        totals: totals(&s),
        requests: s.totals.requests,
        items,
    }))
}
