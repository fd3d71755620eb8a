//! `/admin/logs/requests`: request logs, newest first, filtered, cursor-paged.

use actix_web::{web, HttpResponse};
use entity::request_log;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::mailbox;
use crate::actors::log_sink::{GetLog, SearchLogs};
use crate::core::money::Money;
use crate::error::ApiError;
use crate::handlers::extract::AdminAuth;
use crate::handlers::schemas::ErrorBody;
use crate::state::AppState;
use crate::store::log_search::{Cursor, LogFilter, Outcome};
use crate::time::{parse_rfc3339, to_rfc3339};

/// One request-log row as the admin API (and a token's own usage) shows it.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct LogView {
    pub id: i64,
    pub request_id: String,
    pub created_at: String,
    pub token_id: Option<i32>,
    /// The token's name (read when the page is answered).
    pub token_name: Option<String>,
    pub endpoint: String,
    pub requested_model: Option<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub key_id: Option<i32>,
    pub stream: bool,
    /// `success` or `error`.
    pub status: String,
    pub status_code: i32,
    pub error_type: Option<String>,
    pub error_message: Option<String>,
    pub latency_ms: i64,
    pub first_byte_ms: Option<i64>,
    pub attempts: i32,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub cached_tokens: i64,
    pub cache_write_tokens: i64,
    /// Of the cache writes, those written for an hour.
    pub cache_write_1h_tokens: i64,
    pub reasoning_tokens: i64,
    /// Web searches the provider ran (billed per use).
    pub web_search_requests: i64,
    /// `flex` or `priority` when the answer was served at one.
    pub service_tier: Option<String>,
    /// Audio tokens inside the prompt and the completion.
    pub audio_input_tokens: i64,
    pub audio_output_tokens: i64,
    /// USD.
    pub amount: f64,
    pub usage_estimated: bool,
    /// Who the client said the call was for (`user`, `safety_identifier`,
    /// `metadata.user_id` or the `x-gateway-end-user` header).
    pub end_user: Option<String>,
    /// The client's session (`x-claude-code-session-id`, else `x-session-id`).
    pub session_id: Option<String>,
    /// The W3C trace the call belongs to (32 hex digits), when the client sent a valid
    /// `traceparent`.
    pub trace_id: Option<String>,
    /// Where the trace is shown (`telemetry.trace_url_template` with the trace id), for
    /// the console's link.
    pub trace_url: Option<String>,
}

impl From<&request_log::Model> for LogView {
    fn from(r: &request_log::Model) -> Self {
        LogView {
            id: r.id,
            request_id: r.request_id.clone(),
            created_at: to_rfc3339(r.created_at),
            token_id: r.token_id,
            token_name: None,
            endpoint: r.endpoint.clone(),
            requested_model: r.requested_model.clone(),
            model: r.model.clone(),
            provider: r.provider.clone(),
            key_id: r.key_id,
            stream: r.stream,
            status: r.status.clone(),
            status_code: r.status_code,
            error_type: r.error_type.clone(),
            error_message: r.error_message.clone(),
            latency_ms: r.latency_ms,
            first_byte_ms: r.first_byte_ms,
            attempts: r.attempts,
            prompt_tokens: r.prompt_tokens,
            completion_tokens: r.completion_tokens,
            total_tokens: r.total_tokens,
            cached_tokens: r.cached_tokens,
            cache_write_tokens: r.cache_write_tokens,
            cache_write_1h_tokens: r.cache_write_1h_tokens,
            reasoning_tokens: r.reasoning_tokens,
            web_search_requests: r.web_search_requests,
            service_tier: r.service_tier.clone(),
            audio_input_tokens: r.audio_input_tokens,
            audio_output_tokens: r.audio_output_tokens,
            amount: Money::from_nanos(r.amount_nano).usd(),
            usage_estimated: r.usage_estimated,
            end_user: r.end_user.clone(),
            session_id: r.session_id.clone(),
            trace_id: r.trace_id.clone(),
            trace_url: None,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Rows per page, 1..=1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    pub token_id: Option<i32>,
    pub provider: Option<String>,
    /// The model as sent upstream (after redirects).
    pub model: Option<String>,
    /// `success` or `error`.
    #[param(pattern = "^(success|error)$")]
    pub status: Option<String>,
    /// The end user, exactly as the log row names it.
    pub end_user: Option<String>,
    /// The session, exactly as the log row names it.
    pub session_id: Option<String>,
    /// RFC 3339 or Unix milliseconds, inclusive.
    pub since: Option<String>,
    /// RFC 3339 or Unix milliseconds, exclusive.
    pub until: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct LogPage {
    pub data: Vec<LogView>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
}

/// RFC 3339 or Unix milliseconds.
pub fn parse_time(param: &'static str, text: &str) -> Result<i64, ApiError> {
    text.trim()
        .parse::<i64>()
        .or_else(|_| parse_rfc3339(text.trim()))
        .map_err(|_| {
            ApiError::invalid_param(
                param,
                format!("{param} must be RFC 3339 or Unix milliseconds"),
            )
        })
}

fn filter(q: &LogQuery) -> Result<LogFilter, ApiError> {
    let status = match q.status.as_deref() {
        None => None,
        Some("success") => Some(Outcome::Success),
        Some("error") => Some(Outcome::Error),
        Some(_) => {
            return Err(ApiError::invalid_param(
                "status",
                "status must be success or error",
            ))
        }
    };
    let too_long = |s: &Option<String>| s.as_ref().is_some_and(|s| s.len() > 256);
    if too_long(&q.provider) || too_long(&q.model) {
        return Err(ApiError::invalid(
            "provider and model filters are at most 256 bytes",
        ));
    }
    // A stored label is at most 256 bytes plus an ellipsis.
    let too_long = |s: &Option<String>| s.as_ref().is_some_and(|s| s.len() > 260);
    if too_long(&q.end_user) || too_long(&q.session_id) {
        return Err(ApiError::invalid(
            "end_user and session_id filters are at most 260 bytes",
        ));
    }
    Ok(LogFilter {
        token_id: q.token_id,
        provider: q.provider.clone(),
        model: q.model.clone(),
        status,
        end_user: q.end_user.clone(),
        session_id: q.session_id.clone(),
        since: q
            .since
            .as_deref()
            .map(|t| parse_time("since", t))
            .transpose()?,
        until: q
            .until
            .as_deref()
            .map(|t| parse_time("until", t))
            .transpose()?,
    })
}

#[utoipa::path(get, path = "/admin/logs/requests", tag = "admin", security(("bearer" = [])),
    params(LogQuery),
    responses((status = 200, body = LogPage), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    _: AdminAuth,
    query: web::Query<LogQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid_param("limit", "limit must be 1..=1000"));
    }
    let cursor = query
        .cursor
        .as_deref()
        .map(|c| {
            Cursor::decode(c).ok_or_else(|| ApiError::invalid_param("cursor", "invalid cursor"))
        })
        .transpose()?;
    let (rows, next) = state
        .logs
        .send(SearchLogs {
            filter: filter(&query)?,
            cursor,
            limit,
        })
        .await
        .map_err(mailbox)?
        .map_err(|e| ApiError::internal("cannot read request logs", e))?;
    let mut data: Vec<LogView> = rows.iter().map(LogView::from).collect();
    name_tokens(&state, &mut data).await?;
    link_traces(&state, &mut data);
    Ok(HttpResponse::Ok().json(LogPage {
        data,
        next_cursor: next.map(|c| c.encode()),
    }))
}

#[utoipa::path(get, path = "/admin/logs/requests/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = LogView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    _: AdminAuth,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::NotFound(format!("request log '{path}' not found"));
    let id: i64 = path.parse().map_err(|_| not_found())?;
    let row = state
        .logs
        .send(GetLog(id))
        .await
        .map_err(mailbox)?
        .map_err(|e| ApiError::internal("cannot read request logs", e))?
        .ok_or_else(not_found)?;
    let mut view = [LogView::from(&row)];
    name_tokens(&state, &mut view).await?;
    link_traces(&state, &mut view);
    Ok(HttpResponse::Ok().json(&view[0]))
}

/// Fills in the rows' trace links, where a template is set (only for a trace id of 32
/// lowercase hex digits, as the gateway writes them: nothing else reaches a link).
fn link_traces(state: &AppState, views: &mut [LogView]) {
    let Some(template) = &state.settings.telemetry.trace_url_template else {
        return;
    };
    for v in views {
        v.trace_url = v
            .trace_id
            .as_deref()
            .filter(|id| crate::trace_context::is_trace_id(id))
            .map(|id| template.replace("{trace_id}", id));
    }
}

/// Fills in the names of the rows' tokens: one read of committed token rows per page.
pub async fn name_tokens(state: &AppState, views: &mut [LogView]) -> Result<(), ApiError> {
    let mut ids: Vec<i32> = views.iter().filter_map(|v| v.token_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let names = crate::store::tokens::names(&state.db, &ids)
        .await
        .map_err(|e| ApiError::internal("cannot read token names", e))?;
    for v in views {
        v.token_name = v.token_id.and_then(|id| names.get(&id).cloned());
    }
    Ok(())
}
