//! `/admin/teams`: team CRUD. A team's budgets, rates, concurrency cap and allow-list
//! bind every call of its tokens alongside the token's own.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::limits_input::{
    amount, budget_period, max_parallel, max_tokens, models, name, nullable, per_minute,
};
use super::paging::IdPage;
use super::{double_option, mailbox};
use crate::accounting::period::rfc3339_opt;
use crate::actors::usage_ledger::{
    CreateTeam, DeleteTeam, GetTeam, ListTeams, TeamRecord, UpdateTeam,
};
use crate::core::money::Money;
use crate::error::ApiError;
use crate::handlers::body::json_body;
use crate::handlers::extract::AdminAuth;
use crate::handlers::schemas::ErrorBody;
use crate::state::AppState;
use crate::store::models_from_db;
use crate::store::teams::{NewTeam, TeamPatch};
use crate::time::to_rfc3339;

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct TeamView {
    pub id: i32,
    pub name: String,
    pub max_tokens: Option<i64>,
    /// USD.
    pub max_amount: Option<f64>,
    pub budget_period: String,
    pub rpm: Option<i32>,
    pub tpm: Option<i32>,
    pub max_parallel: Option<i32>,
    /// null: every model.
    pub allowed_models: Option<Vec<String>>,
    pub enabled: bool,
    /// The current period's usage (what the budgets count), its start and its end (null
    /// without a period).
    pub spent_tokens: i64,
    /// USD.
    pub spent_amount: f64,
    pub period_started_at: Option<String>,
    pub resets_at: Option<String>,
    /// Lifetime usage.
    pub total_tokens: i64,
    /// USD.
    pub amount_spent: f64,
    pub requests: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&TeamRecord> for TeamView {
    fn from(t: &TeamRecord) -> Self {
        let r = &t.row;
        TeamView {
            id: r.id,
            name: r.name.clone(),
            max_tokens: r.max_tokens,
            max_amount: r.max_amount_nano.map(|n| Money::from_nanos(n).usd()),
            budget_period: r.budget_period.clone(),
            rpm: r.rpm,
            tpm: r.tpm,
            max_parallel: r.max_parallel,
            allowed_models: models_from_db(r.allowed_models.as_ref()),
            enabled: r.enabled,
            spent_tokens: t.period.tokens,
            spent_amount: Money::from_nanos(t.period.nano).usd(),
            period_started_at: rfc3339_opt(Some(t.period.start).filter(|s| *s > 0)),
            resets_at: rfc3339_opt(t.resets_at),
            total_tokens: t.totals.total_tokens,
            amount_spent: t.totals.amount.usd(),
            requests: t.totals.requests,
            created_at: to_rfc3339(r.created_at),
            updated_at: to_rfc3339(r.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TeamList {
    pub data: Vec<TeamView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TeamQuery {
    /// Teams per page, 1..=1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only teams whose name contains this (any case).
    pub q: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// Delete a team that has tokens (they leave it).
    pub force: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct DeletedTeam {
    pub deleted: bool,
    pub id: i32,
    /// Tokens that left the team.
    pub tokens_released: usize,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTeamBody {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    #[serde(default)]
    pub max_tokens: Option<i64>,
    /// USD.
    #[serde(default)]
    pub max_amount: Option<f64>,
    /// `none` (default), `daily`, `weekly`, `monthly`, or `<n>m` / `<n>h` / `<n>d`.
    #[serde(default)]
    pub budget_period: Option<String>,
    #[serde(default)]
    pub rpm: Option<i64>,
    #[serde(default)]
    pub tpm: Option<i64>,
    #[serde(default)]
    pub max_parallel: Option<i64>,
    #[serde(default)]
    pub allowed_models: Option<Vec<String>>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamPatchBody {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub max_tokens: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<f64>)]
    pub max_amount: Option<Option<f64>>,
    /// A changed period starts afresh.
    #[serde(default)]
    pub budget_period: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub rpm: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub tpm: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub max_parallel: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<String>>)]
    pub allowed_models: Option<Option<Vec<String>>>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

fn parse_id(text: &str) -> Result<i32, ApiError> {
    text.parse()
        .map_err(|_| ApiError::NotFound(format!("team '{text}' not found")))
}

async fn team_view(state: &AppState, id: i32) -> Result<TeamView, ApiError> {
    let team = state.ledger.send(GetTeam { id }).await.map_err(mailbox)??;
    Ok(TeamView::from(&team))
}

#[utoipa::path(post, path = "/admin/teams", tag = "admin", security(("bearer" = [])),
    request_body = NewTeamBody,
    responses((status = 201, body = TeamView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    admin: AdminAuth,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let b: NewTeamBody = json_body(&state, &req, payload).await?;
    let new = NewTeam {
        name: name(&b.name)?,
        max_tokens: b.max_tokens.map(max_tokens).transpose()?,
        max_amount_nano: b.max_amount.map(amount).transpose()?,
        budget_period: b
            .budget_period
            .as_deref()
            .map(budget_period)
            .transpose()?
            .unwrap_or_else(|| "none".into()),
        rpm: b.rpm.map(|n| per_minute("rpm", n)).transpose()?,
        tpm: b.tpm.map(|n| per_minute("tpm", n)).transpose()?,
        max_parallel: b.max_parallel.map(max_parallel).transpose()?,
        allowed_models: b.allowed_models.map(models).transpose()?,
        enabled: b.enabled.unwrap_or(true),
    };
    let record = state
        .ledger
        .send(CreateTeam(new))
        .await
        .map_err(mailbox)??;
    let view = TeamView::from(&record);
    admin
        .audit(
            "create",
            format!("team/{}", view.id),
            None,
            AdminAuth::snapshot(&view),
        )
        .await;
    Ok(HttpResponse::Created().json(view))
}

/// A page of teams by id (`limit`, `cursor`), optionally only names containing `q`.
#[utoipa::path(get, path = "/admin/teams", tag = "admin", security(("bearer" = [])),
    params(TeamQuery),
    responses((status = 200, body = TeamList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    _: AdminAuth,
    query: web::Query<TeamQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let page = IdPage::of(query.limit, query.cursor.as_deref(), query.q.as_deref())?;
    let (teams, next) = state
        .ledger
        .send(ListTeams {
            q: page.q,
            after: page.after,
            limit: page.limit,
        })
        .await
        .map_err(mailbox)??;
    Ok(HttpResponse::Ok().json(TeamList {
        data: teams.iter().map(TeamView::from).collect(),
        next_cursor: next.map(|id| id.to_string()),
    }))
}

#[utoipa::path(get, path = "/admin/teams/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = i32, Path)),
    responses((status = 200, body = TeamView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    _: AdminAuth,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path)?;
    Ok(HttpResponse::Ok().json(team_view(&state, id).await?))
}

#[utoipa::path(patch, path = "/admin/teams/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = i32, Path)), request_body = TeamPatchBody,
    responses((status = 200, body = TeamView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    admin: AdminAuth,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path)?;
    let b: TeamPatchBody = json_body(&state, &req, payload).await?;
    let patch = TeamPatch {
        name: b.name.as_deref().map(name).transpose()?,
        max_tokens: nullable(b.max_tokens, max_tokens)?,
        max_amount_nano: nullable(b.max_amount, amount)?,
        budget_period: b.budget_period.as_deref().map(budget_period).transpose()?,
        rpm: nullable(b.rpm, |n| per_minute("rpm", n))?,
        tpm: nullable(b.tpm, |n| per_minute("tpm", n))?,
        max_parallel: nullable(b.max_parallel, max_parallel)?,
        allowed_models: nullable(b.allowed_models, models)?,
        enabled: b.enabled,
    };
    let before = team_view(&state, id).await?;
    let team = state
        .ledger
        .send(UpdateTeam { id, patch })
        .await
        .map_err(mailbox)??;
    let view = TeamView::from(&team);
    admin
        .audit(
            "update",
            format!("team/{id}"),
            AdminAuth::snapshot(&before),
            AdminAuth::snapshot(&view),
        )
        .await;
    Ok(HttpResponse::Ok().json(view))
}

#[utoipa::path(delete, path = "/admin/teams/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = i32, Path), DeleteQuery),
    responses((status = 200, body = DeletedTeam), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    admin: AdminAuth,
    path: web::Path<String>,
    query: web::Query<DeleteQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path)?;
    let before = team_view(&state, id).await?;
    let force = query.force.unwrap_or(false);
    let released = state
        .ledger
        .send(DeleteTeam { id, force })
        .await
        .map_err(mailbox)??;
    admin
        .audit(
            "delete",
            format!("team/{id}"),
            AdminAuth::snapshot(&before),
            None,
        )
        .await;
    Ok(HttpResponse::Ok().json(DeletedTeam {
        deleted: true,
        id,
        tokens_released: released,
    }))
}
