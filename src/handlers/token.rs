//! `/v1/token/*`: a token's own balance and usage.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::admin::logs::LogView;
use super::admin::mailbox;
use super::extract::ClientAuth;
use crate::accounting::ledger::TokenState;
use crate::accounting::period::rfc3339_opt;
use crate::accounting::{Limits, PeriodSpend};
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
    /// USD left in the current period: max_amount − its spend; null without a money
    /// budget.
    pub balance: Option<f64>,
    pub max_amount: Option<f64>,
    pub max_tokens: Option<i64>,
    pub tokens_remaining: Option<i64>,
    pub expires_at: Option<String>,
    /// `none` (the budgets are for the token's life), `daily`, `weekly`, `monthly` or a
    /// fixed length.
    pub budget_period: String,
    /// The current period's start and end; null without a period.
    pub period_started_at: Option<String>,
    pub resets_at: Option<String>,
    /// The token's team, when it is in one: what its budgets leave.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<TeamBalance>,
    /// Lifetime usage.
    pub usage: UsageTotals,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct TeamBalance {
    pub id: i32,
    pub name: String,
    /// USD left in the team's period; null without a money budget.
    pub balance: Option<f64>,
    pub tokens_remaining: Option<i64>,
    pub resets_at: Option<String>,
}

/// What a budget leaves: USD and tokens (null where there is no such budget).
fn left(limits: &Limits, period: &PeriodSpend) -> (Option<f64>, Option<i64>) {
    (
        limits
            .max_amount
            .map(|max| max.left_after(Money::from_nanos(period.nano)).usd()),
        limits.max_tokens.map(|max| (max - period.tokens).max(0)),
    )
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
    let (balance, tokens_remaining) = left(&limits, &s.period);
    let team = s
        .info
        .team_id
        .and_then(|id| state.accounts.team_state(id))
        .map(|t| {
            let (balance, tokens_remaining) = left(&t.info.limits, &t.period);
            TeamBalance {
                id: t.info.id,
                name: t.info.name.clone(),
                balance,
                tokens_remaining,
                resets_at: rfc3339_opt(t.resets_at),
            }
        });
    Ok(HttpResponse::Ok().json(Balance {
        balance,
        max_amount: limits.max_amount.map(Money::usd),
        max_tokens: limits.max_tokens,
        tokens_remaining,
        expires_at: s.info.expires_at.map(to_rfc3339),
        budget_period: limits.period.text(),
        period_started_at: rfc3339_opt(Some(s.period.start).filter(|_| s.resets_at.is_some())),
        resets_at: rfc3339_opt(s.resets_at),
        team,
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
