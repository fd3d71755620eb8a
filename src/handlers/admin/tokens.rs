//! `/admin/tokens`: token CRUD. The plaintext appears only in the create answer.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::limits_input::{
    amount, budget_period, expiry, max_parallel, max_tokens, models, name, nullable, per_minute,
};
use super::paging::IdPage;
use super::{double_option, mailbox};
use crate::accounting::period::rfc3339_opt;
use crate::actors::usage_ledger::{
    CreateToken, DeleteToken, GetToken, ListTokens, TokenRecord, UpdateToken,
};
use crate::core::money::Money;
use crate::error::ApiError;
use crate::handlers::body::json_body;
use crate::handlers::extract::AdminAuth;
use crate::handlers::schemas::ErrorBody;
use crate::state::AppState;
use crate::store::models_from_db;
use crate::store::tokens::{parse_role, NewToken, Role, TokenPatch};
use crate::time::to_rfc3339;

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct TokenView {
    pub id: i32,
    pub name: String,
    /// `client` or `admin`.
    pub role: String,
    /// The first characters of the token, to tell tokens apart (never the whole token).
    pub token_prefix: String,
    /// null: every model.
    pub allowed_models: Option<Vec<String>>,
    pub max_tokens: Option<i64>,
    /// USD.
    pub max_amount: Option<f64>,
    pub expires_at: Option<String>,
    pub enabled: bool,
    pub rpm: Option<i32>,
    pub tpm: Option<i32>,
    /// Calls in flight at once (a stream until it ends); null: no cap.
    pub max_parallel: Option<i32>,
    /// The team whose limits the token's calls also answer to.
    pub team_id: Option<i32>,
    /// `none` (the budgets are for the token's life), `daily`, `weekly`, `monthly` or a
    /// fixed length (`15m`, `1h`, `30d`).
    pub budget_period: String,
    /// The current period's usage (what the budgets count), its start and its end (null
    /// without a period).
    pub spent_tokens: i64,
    /// USD.
    pub spent_amount: f64,
    pub period_started_at: Option<String>,
    pub resets_at: Option<String>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    /// USD.
    pub amount_spent: f64,
    pub requests: i64,
    pub created_at: String,
    pub updated_at: String,
    pub last_used_at: Option<String>,
}

impl From<&TokenRecord> for TokenView {
    fn from(t: &TokenRecord) -> Self {
        let r = &t.row;
        TokenView {
            id: r.id,
            name: r.name.clone(),
            role: r.role.as_str().to_string(),
            token_prefix: r.token_prefix.clone(),
            allowed_models: models_from_db(r.allowed_models.as_ref()),
            max_tokens: r.max_tokens,
            max_amount: r.max_amount_nano.map(|n| Money::from_nanos(n).usd()),
            expires_at: r.expires_at.map(to_rfc3339),
            enabled: r.enabled,
            rpm: r.rpm,
            tpm: r.tpm,
            max_parallel: r.max_parallel,
            team_id: r.team_id,
            budget_period: r.budget_period.clone(),
            spent_tokens: t.period.tokens,
            spent_amount: Money::from_nanos(t.period.nano).usd(),
            period_started_at: rfc3339_opt(Some(t.period.start).filter(|s| *s > 0)),
            resets_at: rfc3339_opt(t.resets_at),
            prompt_tokens: t.totals.prompt_tokens,
            completion_tokens: t.totals.completion_tokens,
            total_tokens: t.totals.total_tokens,
            amount_spent: t.totals.amount.usd(),
            requests: t.totals.requests,
            created_at: to_rfc3339(r.created_at),
            updated_at: to_rfc3339(r.updated_at),
            last_used_at: r.last_used_at.map(to_rfc3339),
        }
    }
}

/// The create answer: the token's view and, this once, its plaintext.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub view: TokenView,
    /// The plaintext token: shown only in this answer.
    pub token: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenList {
    pub data: Vec<TokenView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// Tokens per page, 1..=1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only tokens whose name contains this (any case).
    pub q: Option<String>,
    /// Only the tokens of this team.
    pub team_id: Option<i32>,
}

#[derive(Serialize, ToSchema)]
pub struct DeletedToken {
    pub deleted: bool,
    pub id: i32,
}

fn parse_id(text: &str) -> Result<i32, ApiError> {
    text.parse()
        .map_err(|_| ApiError::NotFound(format!("token '{text}' not found")))
}

fn role(text: &str) -> Result<Role, ApiError> {
    parse_role(text).ok_or_else(|| ApiError::invalid_param("role", "role must be client or admin"))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenBody {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// `client` (default) or `admin`.
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub allowed_models: Option<Vec<String>>,
    #[serde(default)]
    pub max_tokens: Option<i64>,
    /// USD.
    #[serde(default)]
    pub max_amount: Option<f64>,
    /// RFC 3339.
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub rpm: Option<i64>,
    #[serde(default)]
    pub tpm: Option<i64>,
    /// Calls in flight at once, 1..=100000 (a stream until it ends); beyond it: 429
    /// `concurrency_limit` with `Retry-After: 1`.
    #[serde(default)]
    pub max_parallel: Option<i64>,
    /// The team to join.
    #[serde(default)]
    pub team_id: Option<i32>,
    /// `none` (default), `daily`, `weekly`, `monthly`, or `<n>m` / `<n>h` / `<n>d`.
    #[serde(default)]
    pub budget_period: Option<String>,
}

#[utoipa::path(post, path = "/admin/tokens", tag = "admin", security(("bearer" = [])),
    request_body = NewTokenBody,
    responses((status = 201, body = CreatedToken), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn create(
    admin: AdminAuth,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let b: NewTokenBody = json_body(&state, &req, payload).await?;
    let new = NewToken {
        name: name(&b.name)?,
        role: b
            .role
            .as_deref()
            .map(role)
            .transpose()?
            .unwrap_or(Role::Client),
        allowed_models: b.allowed_models.map(models).transpose()?,
        max_tokens: b.max_tokens.map(max_tokens).transpose()?,
        max_amount_nano: b.max_amount.map(amount).transpose()?,
        expires_at: b.expires_at.as_deref().map(expiry).transpose()?,
        rpm: b.rpm.map(|n| per_minute("rpm", n)).transpose()?,
        tpm: b.tpm.map(|n| per_minute("tpm", n)).transpose()?,
        max_parallel: b.max_parallel.map(max_parallel).transpose()?,
        team_id: b.team_id,
        budget_period: b
            .budget_period
            .as_deref()
            .map(budget_period)
            .transpose()?
            .unwrap_or_else(|| "none".into()),
    };
    let (record, plaintext) = state
        .ledger
        .send(CreateToken(new))
        .await
        .map_err(mailbox)??;
    let view = TokenView::from(&record);
    admin
        .audit(
            "create",
            format!("token/{}", view.id),
            None,
            AdminAuth::snapshot(&view),
        )
        .await;
    Ok(HttpResponse::Created().json(CreatedToken {
        view,
        token: plaintext,
    }))
}

/// A page of tokens by id (`limit`, `cursor`), optionally only names containing `q`.
#[utoipa::path(get, path = "/admin/tokens", tag = "admin", security(("bearer" = [])),
    params(TokenQuery),
    responses((status = 200, body = TokenList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    _: AdminAuth,
    query: web::Query<TokenQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let page = IdPage::of(query.limit, query.cursor.as_deref(), query.q.as_deref())?;
    let (tokens, next) = state
        .ledger
        .send(ListTokens {
            q: page.q,
            team_id: query.team_id,
            after: page.after,
            limit: page.limit,
        })
        .await
        .map_err(mailbox)??;
    Ok(HttpResponse::Ok().json(TokenList {
        data: tokens.iter().map(TokenView::from).collect(),
        next_cursor: next.map(|id| id.to_string()),
    }))
}

async fn token_view(state: &AppState, id: i32) -> Result<TokenView, ApiError> {
    let token = state
        .ledger
        .send(GetToken { id })
        .await
        .map_err(mailbox)??;
    Ok(TokenView::from(&token))
}

#[utoipa::path(get, path = "/admin/tokens/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = i32, Path)),
    responses((status = 200, body = TokenView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    _: AdminAuth,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path)?;
    Ok(HttpResponse::Ok().json(token_view(&state, id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenPatchBody {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    /// null: every model.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<String>>)]
    pub allowed_models: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub max_tokens: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<f64>)]
    pub max_amount: Option<Option<f64>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub expires_at: Option<Option<String>>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub rpm: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub tpm: Option<Option<i64>>,
    /// null removes the cap.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub max_parallel: Option<Option<i64>>,
    /// null leaves the team.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i32>)]
    pub team_id: Option<Option<i32>>,
    /// A changed period starts afresh (a lifetime budget counts the whole life again).
    #[serde(default)]
    pub budget_period: Option<String>,
}

#[utoipa::path(patch, path = "/admin/tokens/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = i32, Path)), request_body = TokenPatchBody,
    responses((status = 200, body = TokenView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn update(
    admin: AdminAuth,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path)?;
    let b: TokenPatchBody = json_body(&state, &req, payload).await?;
    let patch = TokenPatch {
        name: b.name.as_deref().map(name).transpose()?,
        role: b.role.as_deref().map(role).transpose()?,
        allowed_models: nullable(b.allowed_models, models)?,
        max_tokens: nullable(b.max_tokens, max_tokens)?,
        max_amount_nano: nullable(b.max_amount, amount)?,
        expires_at: nullable(b.expires_at, |t: String| expiry(&t))?,
        enabled: b.enabled,
        rpm: nullable(b.rpm, |n| per_minute("rpm", n))?,
        tpm: nullable(b.tpm, |n| per_minute("tpm", n))?,
        max_parallel: nullable(b.max_parallel, max_parallel)?,
        team_id: b.team_id,
        budget_period: b.budget_period.as_deref().map(budget_period).transpose()?,
    };
    let before = token_view(&state, id).await?;
    let token = state
        .ledger
        .send(UpdateToken { id, patch })
        .await
        .map_err(mailbox)??;
    let view = TokenView::from(&token);
    admin
        .audit(
            "update",
            format!("token/{id}"),
            AdminAuth::snapshot(&before),
            AdminAuth::snapshot(&view),
        )
        .await;
    Ok(HttpResponse::Ok().json(view))
}

#[utoipa::path(delete, path = "/admin/tokens/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = i32, Path)),
    responses((status = 200, body = DeletedToken), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    admin: AdminAuth,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path)?;
    let before = token_view(&state, id).await?;
    state
        .ledger
        .send(DeleteToken { id })
        .await
        .map_err(mailbox)??;
    admin
        .audit(
            "delete",
            format!("token/{id}"),
            AdminAuth::snapshot(&before),
            None,
        )
        .await;
    Ok(HttpResponse::Ok().json(DeletedToken { deleted: true, id }))
}
