//! `/admin/metrics/*`: a window's totals and model distribution, from the rollups.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::mailbox;
use crate::actors::log_sink::{Distribution, Series, Summarize};
use crate::core::money::Money;
use crate::error::ApiError;
use crate::handlers::extract::AdminAuth;
use crate::handlers::schemas::ErrorBody;
use crate::state::AppState;
use crate::store::summary::{quantile, Group};
use crate::time::to_rfc3339;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WindowQuery {
    /// Minutes back from now, 1..=525600 (default 60). Rounded out to whole minutes.
    #[param(minimum = 1, maximum = 525600)]
    pub window_minutes: Option<i64>,
}

fn window(q: &WindowQuery) -> Result<i64, ApiError> {
    let w = q.window_minutes.unwrap_or(60);
    if !(1..=525_600).contains(&w) {
        return Err(ApiError::invalid_param(
            "window_minutes",
            "window_minutes must be 1..=525600",
        ));
    }
    Ok(w)
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct TopItem {
    /// Model name, provider name or token id.
    pub key: String,
    /// The token's name (top tokens only).
    pub name: Option<String>,
    pub requests: i64,
    pub errors: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    /// USD.
    pub amount: f64,
}

impl From<&Group> for TopItem {
    fn from(g: &Group) -> Self {
        TopItem {
            key: g.key.clone(),
            name: None,
            requests: g.requests,
            errors: g.errors,
            prompt_tokens: g.prompt_tokens,
            completion_tokens: g.completion_tokens,
            total_tokens: g.total_tokens,
            amount: Money::from_nanos(g.amount_nano).usd(),
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct Summary {
    pub window_minutes: i64,
    /// Start of the first whole minute counted.
    pub since: String,
    pub requests: i64,
    pub success: i64,
    pub errors: i64,
    /// errors / requests (0 without requests).
    pub error_rate: f64,
    pub avg_latency_ms: Option<f64>,
    /// From a log-scale histogram: at most 19 % above the true value.
    pub p95_latency_ms: Option<f64>,
    /// Average time to the first byte of the answer (streams: first token).
    pub avg_first_token_ms: Option<f64>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub cached_tokens: i64,
    /// USD.
    pub amount: f64,
    pub top_models: Vec<TopItem>,
    pub top_providers: Vec<TopItem>,
    pub top_tokens: Vec<TopItem>,
}

fn ratio(a: i64, b: i64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

#[utoipa::path(get, path = "/admin/metrics/summary", tag = "admin", security(("bearer" = [])),
    params(WindowQuery),
    responses((status = 200, body = Summary), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn summary(
    _: AdminAuth,
    query: web::Query<WindowQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let window_minutes = window(&query)?;
    let r = state
        .logs
        .send(Summarize {
            window_minutes,
            top: 10,
        })
        .await
        .map_err(mailbox)?
        .map_err(|e| ApiError::internal("cannot read metrics", e))?;
    let t = &r.totals;
    // Empty keys (calls refused before routing) are not a model or provider.
    let named = |groups: &[Group]| -> Vec<TopItem> {
        groups
            .iter()
            .filter(|g| !g.key.is_empty() && g.key != "0")
            .map(TopItem::from)
            .collect()
    };
    let mut top_tokens = named(&r.top_tokens);
    let ids: Vec<i32> = top_tokens
        .iter()
        .filter_map(|t| t.key.parse().ok())
        .collect();
    let names = crate::store::tokens::names(&state.db, &ids)
        .await
        .map_err(|e| ApiError::internal("cannot read token names", e))?;
    for t in &mut top_tokens {
        t.name = t
            .key
            .parse()
            .ok()
            .and_then(|id: i32| names.get(&id).cloned());
    }
    Ok(HttpResponse::Ok().json(Summary {
        window_minutes,
        since: to_rfc3339(r.since_bucket),
        requests: t.requests,
        success: t.requests - t.errors,
        errors: t.errors,
        error_rate: ratio(t.errors, t.requests).unwrap_or(0.0),
        avg_latency_ms: ratio(t.latency_sum_ms, t.requests),
        p95_latency_ms: r.p95_latency_ms,
        avg_first_token_ms: ratio(t.first_byte_sum_ms, t.first_byte_count),
        prompt_tokens: t.prompt_tokens,
        completion_tokens: t.completion_tokens,
        total_tokens: t.total_tokens,
        cached_tokens: t.cached_tokens,
        amount: Money::from_nanos(t.amount_nano).usd(),
        top_models: named(&r.top_models),
        top_providers: named(&r.top_providers),
        top_tokens,
    }))
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ModelShare {
    pub model: String,
    pub requests: i64,
    pub errors: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    /// USD.
    pub amount: f64,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ModelsDistribution {
    pub window_minutes: i64,
    pub items: Vec<ModelShare>,
}

#[utoipa::path(get, path = "/admin/metrics/models-distribution", tag = "admin", security(("bearer" = [])),
    params(WindowQuery),
    responses((status = 200, body = ModelsDistribution), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn models_distribution(
    _: AdminAuth,
    query: web::Query<WindowQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let window_minutes = window(&query)?;
    let groups = state
        .logs
        .send(Distribution { window_minutes })
        .await
        .map_err(mailbox)?
        .map_err(|e| ApiError::internal("cannot read metrics", e))?;
    let items = groups
        .iter()
        .filter(|g| !g.key.is_empty())
        .map(|g| ModelShare {
            model: g.key.clone(),
            requests: g.requests,
            errors: g.errors,
            prompt_tokens: g.prompt_tokens,
            completion_tokens: g.completion_tokens,
            total_tokens: g.total_tokens,
            amount: Money::from_nanos(g.amount_nano).usd(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(ModelsDistribution {
        window_minutes,
        items,
    }))
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct SeriesPoint {
    /// The step's start.
    pub at: String,
    pub requests: i64,
    pub errors: i64,
    pub avg_latency_ms: Option<f64>,
    /// From the latency histogram: the upper bound of the slot (at most 19 % high).
    pub p50_latency_ms: Option<f64>,
    pub p95_latency_ms: Option<f64>,
    pub total_tokens: i64,
    /// USD.
    pub amount: f64,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct MetricsSeries {
    pub window_minutes: i64,
    pub step_seconds: i64,
    pub points: Vec<SeriesPoint>,
}

/// `GET /admin/metrics/series?window_minutes=60`: the window in about 60 steps (whole
/// minutes; whole hours past two days) — requests, errors, latency p50/p95, tokens and
/// spend per step, for the console's charts. Read from the rollups like the summary.
#[utoipa::path(get, path = "/admin/metrics/series", tag = "admin", security(("bearer" = [])),
    params(WindowQuery),
    responses((status = 200, body = MetricsSeries), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn series(
    _: AdminAuth,
    query: web::Query<WindowQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let window_minutes = window(&query)?;
    let step_ms = (window_minutes * 60_000 / 60).max(60_000) / 60_000 * 60_000;
    let points = state
        .logs
        .send(Series {
            window_minutes,
            step_ms,
        })
        .await
        .map_err(mailbox)?
        .map_err(|e| ApiError::internal("cannot read metrics", e))?;
    let step_seconds = points
        .windows(2)
        .next()
        .map_or(step_ms / 1000, |w| (w[1].at - w[0].at) / 1000);
    let points = points
        .into_iter()
        .map(|p| SeriesPoint {
            at: to_rfc3339(p.at),
            requests: p.totals.requests,
            errors: p.totals.errors,
            avg_latency_ms: ratio(p.totals.latency_sum_ms, p.totals.requests),
            p50_latency_ms: quantile(&p.latency, 0.5),
            p95_latency_ms: quantile(&p.latency, 0.95),
            total_tokens: p.totals.total_tokens,
            amount: Money::from_nanos(p.totals.amount_nano).usd(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(MetricsSeries {
        window_minutes,
        step_seconds,
        points,
    }))
}
