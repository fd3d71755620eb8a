//! `/admin/tokens`: token CRUD. The plaintext appears only in the create answer.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{double_option, mailbox};
use crate::actors::usage_ledger::{
    CreateToken, DeleteToken, GetToken, ListTokens, TokenRecord, UpdateToken,
};
use crate::cli::{nano_to_usd, usd_to_nano};
use crate::error::ApiError;
use crate::handlers::support::{authenticate_admin, json_body};
use crate::state::AppState;
use crate::store::models_from_db;
use crate::store::tokens::{parse_role, NewToken, Role, TokenPatch};
use crate::time::{parse_rfc3339, to_rfc3339};

fn view(t: &TokenRecord) -> Value {
    let r = &t.row;
    json!({
        "id": r.id,
        "name": r.name,
        "role": r.role.as_str(),
        "token_prefix": r.token_prefix,
        "allowed_models": models_from_db(r.allowed_models.as_ref()),
        "max_tokens": r.max_tokens,
        "max_amount": r.max_amount_nano.map(nano_to_usd),
        "expires_at": r.expires_at.map(to_rfc3339),
        "enabled": r.enabled,
        "rpm": r.rpm,
        "tpm": r.tpm,
        "prompt_tokens": t.totals.prompt_tokens,
        "completion_tokens": t.totals.completion_tokens,
        "total_tokens": t.totals.total_tokens,
        "amount_spent": nano_to_usd(t.totals.amount_nano),
        "requests": t.totals.requests,
        "created_at": to_rfc3339(r.created_at),
        "updated_at": to_rfc3339(r.updated_at),
        "last_used_at": r.last_used_at.map(to_rfc3339),
    })
}

fn parse_id(text: &str) -> Result<i32, ApiError> {
    text.parse()
        .map_err(|_| ApiError::NotFound(format!("token '{text}' not found")))
}

fn role(text: &str) -> Result<Role, ApiError> {
    parse_role(text).ok_or_else(|| ApiError::invalid_param("role", "role must be client or admin"))
}

fn name(text: &str) -> Result<String, ApiError> {
    let t = text.trim();
    if t.is_empty() || t.len() > 100 {
        return Err(ApiError::invalid_param(
            "name",
            "name must be 1-100 characters",
        ));
    }
    Ok(t.to_string())
}

fn models(list: Vec<String>) -> Result<Vec<String>, ApiError> {
    if list.iter().any(|m| m.trim().is_empty() || m.len() > 200) {
        return Err(ApiError::invalid_param(
            "allowed_models",
            "allowed_models must be model names or globs",
        ));
    }
    Ok(list.into_iter().map(|m| m.trim().to_string()).collect())
}

fn max_tokens(n: i64) -> Result<i64, ApiError> {
    (n >= 0)
        .then_some(n)
        .ok_or_else(|| ApiError::invalid_param("max_tokens", "max_tokens must not be negative"))
}

fn amount(usd: f64) -> Result<i64, ApiError> {
    usd_to_nano(usd).map_err(|e| ApiError::invalid_param("max_amount", e))
}

fn expiry(text: &str) -> Result<i64, ApiError> {
    parse_rfc3339(text).map_err(|e| ApiError::invalid_param("expires_at", e))
}

fn per_minute(field: &'static str, n: i64) -> Result<i32, ApiError> {
    i32::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| {
        ApiError::invalid_param(field, format!("{field} must be a positive integer"))
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    allowed_models: Option<Vec<String>>,
    #[serde(default)]
    max_tokens: Option<i64>,
    #[serde(default)]
    max_amount: Option<f64>,
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    rpm: Option<i64>,
    #[serde(default)]
    tpm: Option<i64>,
}

pub async fn create(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authenticate_admin(&state, &req).await?;
    let b: CreateBody = json_body(&state, &req, payload).await?;
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
    };
    let (record, plaintext) = state
        .ledger
        .send(CreateToken(new))
        .await
        .map_err(mailbox)??;
    let mut body = view(&record);
    body["token"] = json!(plaintext);
    Ok(HttpResponse::Created().json(body))
}

pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    authenticate_admin(&state, &req).await?;
    let tokens = state.ledger.send(ListTokens).await.map_err(mailbox)??;
    let data: Vec<Value> = tokens.iter().map(view).collect();
    Ok(HttpResponse::Ok().json(json!({ "data": data })))
}

pub async fn get(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authenticate_admin(&state, &req).await?;
    let id = parse_id(&path)?;
    let token = state
        .ledger
        .send(GetToken { id })
        .await
        .map_err(mailbox)??;
    Ok(HttpResponse::Ok().json(view(&token)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    allowed_models: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "double_option")]
    max_tokens: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    max_amount: Option<Option<f64>>,
    #[serde(default, deserialize_with = "double_option")]
    expires_at: Option<Option<String>>,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    rpm: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    tpm: Option<Option<i64>>,
}

/// Validates an optional-nullable field: absent stays absent, null clears, a value is checked.
fn nullable<T, U>(
    v: Option<Option<T>>,
    check: impl Fn(T) -> Result<U, ApiError>,
) -> Result<Option<Option<U>>, ApiError> {
    v.map(|inner| inner.map(check).transpose()).transpose()
}

pub async fn update(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authenticate_admin(&state, &req).await?;
    let id = parse_id(&path)?;
    let b: PatchBody = json_body(&state, &req, payload).await?;
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
    };
    let token = state
        .ledger
        .send(UpdateToken { id, patch })
        .await
        .map_err(mailbox)??;
    Ok(HttpResponse::Ok().json(view(&token)))
}

pub async fn delete(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authenticate_admin(&state, &req).await?;
    let id = parse_id(&path)?;
    state
        .ledger
        .send(DeleteToken { id })
        .await
        .map_err(mailbox)??;
    Ok(HttpResponse::Ok().json(json!({"deleted": true, "id": id})))
}
