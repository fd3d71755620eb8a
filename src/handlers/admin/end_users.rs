//! `/admin/metrics/end-users`: who spent it — the end users of a window by spend, with their
//! calls, tokens and sessions, from the hourly end-user rollups (never the log).

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::mailbox;
use crate::actors::log_sink::TopEndUsers;
use crate::core::money::Money;
use crate::error::ApiError;
use crate::handlers::extract::AdminAuth;
use crate::handlers::schemas::ErrorBody;
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EndUsersQuery {
    /// Minutes back from now, 1..=525600 (default 1440). Rounded out to whole hours: the
    /// end-user rollups are hourly.
    #[param(minimum = 1, maximum = 525600)]
    pub window_minutes: Option<i64>,
    /// End users listed at most, 1..=1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct EndUserView {
    pub end_user: String,
    pub requests: i64,
    pub errors: i64,
    pub total_tokens: i64,
    /// USD.
    pub spend: f64,
    /// Distinct sessions the end user's calls named.
    pub sessions: i64,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct EndUserList {
    pub window_minutes: i64,
    /// Most spend first.
    pub data: Vec<EndUserView>,
}

#[utoipa::path(get, path = "/admin/metrics/end-users", tag = "admin", security(("bearer" = [])),
    params(EndUsersQuery),
    responses((status = 200, body = EndUserList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    _: AdminAuth,
    query: web::Query<EndUsersQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let window_minutes = query.window_minutes.unwrap_or(1440);
    if !(1..=525_600).contains(&window_minutes) {
        return Err(ApiError::invalid_param(
            "window_minutes",
            "window_minutes must be 1..=525600",
        ));
    }
    let limit = query.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid_param("limit", "limit must be 1..=1000"));
    }
    let users = state
        .logs
        .send(TopEndUsers {
            window_minutes,
            limit,
        })
        .await
        .map_err(mailbox)?
        .map_err(|e| ApiError::internal("cannot read metrics", e))?;
    let data = users
        .into_iter()
        .map(|u| EndUserView {
            end_user: u.end_user,
            requests: u.requests,
            errors: u.errors,
            total_tokens: u.total_tokens,
            spend: Money::from_nanos(u.amount_nano).usd(),
            sessions: u.sessions,
        })
        .collect();
    Ok(HttpResponse::Ok().json(EndUserList {
        window_minutes,
        data,
    }))
}
