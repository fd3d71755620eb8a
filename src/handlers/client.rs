//! The OpenAI-compatible client API: chat completions, embeddings, model listing.

use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use utoipa::ToSchema;

use super::extract::ClientAuth;
use super::support::{authenticate, read_body, request_id};
use crate::accounting::lease::Draw;
use crate::accounting::ledger::LeaseGrant;
use crate::accounting::ledger::{Admission, AdmitRequest};
use crate::accounting::prompt_bound::prompt_bound;
use crate::accounting::token::TokenInfo;
use crate::call::{CallRecord, WindowShare};
use crate::core::endpoint::Dialect;
use crate::core::endpoint::Endpoint;
use crate::error::ApiError;
use crate::openapi::{self, ErrorBody};
use crate::proxy;
use crate::routing::table::Route;
use crate::state::AppState;
use crate::store::budget_holds::{self, Grant};
use crate::store::rate_windows;
use crate::upstream::client::UpstreamClient;
use crate::upstream::ClientRequest;

/// The few fields of a client body the gateway reads; everything else passes through.
#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(default)]
    model: Option<Value>,
    #[serde(default)]
    stream: Option<Value>,
    #[serde(default)]
    stream_options: Option<Value>,
    #[serde(default)]
    max_tokens: Option<Value>,
    #[serde(default)]
    max_completion_tokens: Option<Value>,
    #[serde(default)]
    n: Option<Value>,
    #[serde(default)]
    service_tier: Option<Value>,
    #[serde(default, borrow)]
    messages: Option<&'a RawValue>,
    #[serde(default, borrow)]
    input: Option<&'a RawValue>,
}

/// Longest model name accepted (contract: 400 beyond).
pub const MAX_MODEL_NAME_BYTES: usize = 256;
/// Largest `max_tokens` / `max_completion_tokens` accepted.
pub const MAX_COMPLETION_TOKENS: i64 = 10_000_000;
/// Largest `n` accepted (OpenAI's own limit).
pub const MAX_CHOICES: i64 = 128;

pub fn parse_request(endpoint: Endpoint, raw: bytes::Bytes) -> Result<ClientRequest, ApiError> {
    let first = raw.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if first != Some(b'{') {
        return Err(ApiError::invalid("request body must be a JSON object"));
    }
    let peek: Peek = serde_json::from_slice(&raw)
        .map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?;
    let model = match peek.model {
        None | Some(Value::Null) => {
            return Err(ApiError::invalid_param("model", "'model' is required"))
        }
        Some(Value::String(s)) if s.len() > MAX_MODEL_NAME_BYTES => {
            return Err(ApiError::invalid_param(
                "model",
                format!("'model' is longer than {MAX_MODEL_NAME_BYTES} bytes"),
            ))
        }
        Some(Value::String(s)) if !s.trim().is_empty() => s,
        Some(_) => {
            return Err(ApiError::invalid_param(
                "model",
                "'model' must be a non-empty string",
            ))
        }
    };
    let stream = match peek.stream {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(_) => {
            return Err(ApiError::invalid_param(
                "stream",
                "'stream' must be a boolean",
            ))
        }
    };
    let wants_usage_chunk = match &peek.stream_options {
        None | Some(Value::Null) => false,
        Some(Value::Object(o)) => match o.get("include_usage") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(ApiError::invalid_param(
                    "stream_options",
                    "'stream_options.include_usage' must be a boolean",
                ))
            }
        },
        Some(_) => {
            return Err(ApiError::invalid_param(
                "stream_options",
                "'stream_options' must be an object",
            ))
        }
    };
    let mut client_cap: Option<i64> = None;
    for (name, value) in [
        ("max_completion_tokens", &peek.max_completion_tokens),
        ("max_tokens", &peek.max_tokens),
    ] {
        if let Some(v) = value.as_ref().filter(|v| !v.is_null()) {
            let n = v
                .as_i64()
                .filter(|n| (1..=MAX_COMPLETION_TOKENS).contains(n))
                .ok_or_else(|| ApiError::InvalidRequest {
                    message: format!(
                        "'{name}' must be an integer from 1 to {MAX_COMPLETION_TOKENS}"
                    ),
                    param: Some(name),
                })?;
            client_cap = Some(client_cap.map_or(n, |c| c.max(n)));
        }
    }
    let n = match &peek.n {
        None | Some(Value::Null) => 1,
        Some(v) => v
            .as_i64()
            .filter(|n| (1..=MAX_CHOICES).contains(n))
            .ok_or_else(|| {
                ApiError::invalid_param(
                    "n",
                    format!("'n' must be an integer from 1 to {MAX_CHOICES}"),
                )
            })?,
    };
    match endpoint {
        Endpoint::ChatCompletions | Endpoint::Messages | Endpoint::CountTokens => {
            let messages = peek
                .messages
                .ok_or_else(|| ApiError::invalid_param("messages", "'messages' is required"))?;
            let text = messages.get().trim_start();
            if !text.starts_with('[') {
                return Err(ApiError::invalid_param(
                    "messages",
                    "'messages' must be an array",
                ));
            }
            if text[1..].trim_start().starts_with(']') {
                return Err(ApiError::invalid_param(
                    "messages",
                    "'messages' must not be empty",
                ));
            }
        }
        Endpoint::Embeddings => {
            let input = peek
                .input
                .ok_or_else(|| ApiError::invalid_param("input", "'input' is required"))?;
            let text = input.get().trim_start();
            if !(text.starts_with('"') || text.starts_with('[')) {
                return Err(ApiError::invalid_param(
                    "input",
                    "'input' must be a string or an array",
                ));
            }
            if stream {
                return Err(ApiError::invalid_param(
                    "stream",
                    "embeddings cannot stream",
                ));
            }
        }
    }
    let unpriced_tier = unpriced_tier(peek.service_tier)?;
    let bound = prompt_bound(&raw, &model);
    let sent_max_tokens = peek.max_tokens.is_some_and(|v| !v.is_null());
    let sent_max_completion_tokens = peek.max_completion_tokens.is_some_and(|v| !v.is_null());
    Ok(ClientRequest {
        prompt_tokens: bound.tokens,
        unbounded: bound.unbounded,
        raw,
        model,
        stream,
        wants_usage_chunk,
        client_cap,
        sent_max_tokens,
        sent_max_completion_tokens,
        n,
        allowance: None,
        unpriced_tier,
        forwarded_headers: Vec::new(),
    })
}

/// Service tiers billed at (or below) the price book's standard prices.
const PRICED_TIERS: [&str; 4] = ["auto", "default", "flex", "standard_only"];

/// The `service_tier` asked for, when the price book cannot price it.
pub fn unpriced_tier(value: Option<Value>) -> Result<Option<String>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(t)) if PRICED_TIERS.contains(&t.as_str()) => Ok(None),
        Some(Value::String(t)) => Ok(Some(t)),
        Some(_) => Err(ApiError::invalid_param(
            "service_tier",
            "'service_tier' must be a string",
        )),
    }
}

/// Keeps only the providers this token may use for the model; 403 when none is left.
fn restrict(token: &TokenInfo, mut route: Route) -> Result<Route, ApiError> {
    let bare = route.bare.clone();
    route
        .candidates
        .retain(|c| token.allows(&c.provider.record.name, &bare));
    if route.candidates.is_empty() {
        return Err(ApiError::PermissionDenied(format!(
            "this token may not use model '{}'",
            route.requested
        )));
    }
    Ok(route)
}

async fn proxied(
    endpoint: Endpoint,
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    client: &UpstreamClient,
    rec: &mut Option<CallRecord>,
) -> Result<HttpResponse, ApiError> {
    let token = authenticate(state, req).await?;
    if let Some(r) = rec.as_mut() {
        r.entry.token_id = Some(token.id);
    }
    let raw = read_body(req, payload, state.settings.server.max_body_bytes).await?;
    let parsed = match endpoint {
        Endpoint::Messages => super::messages::parse(req, raw, true)?,
        Endpoint::CountTokens => super::messages::parse(req, raw, false)?,
        _ => parse_request(endpoint, raw)?,
    };
    if let Some(r) = rec.as_mut() {
        r.entry.requested_model = Some(parsed.model.clone());
        r.entry.stream = parsed.stream;
    }
    let mut route = state.table().resolve(&parsed.model)?;
    // Providers whose API cannot serve this endpoint are skipped before admission (token
    // counting keeps them: other types are answered with a local estimate).
    if endpoint != Endpoint::CountTokens {
        route
            .candidates
            .retain(|c| c.provider.record.api_type.serves(endpoint));
    }
    if route.candidates.is_empty() {
        return Err(ApiError::NotFound(format!(
            "no provider serves {} for model '{}'",
            endpoint.name(),
            route.model
        )));
    }
    let mut route = restrict(&token, route)?;
    if let (Some(why), true, true) = (
        &parsed.unbounded,
        token.limits.max_tokens.is_some() || token.limits.max_amount_nano.is_some(),
        endpoint.generates(),
    ) {
        return Err(ApiError::invalid(format!(
            "this token has a budget, and the request holds content whose cost cannot be \
             bounded before the call: {why}"
        )));
    }
    let admit = |route: &Route| {
        state.accounts.admit(AdmitRequest {
            token_id: token.id,
            candidates: route
                .candidates
                .iter()
                .map(|c| (c.provider.record.name.as_str(), c.upstream_model.as_str()))
                .collect(),
            // Counting reserves nothing: it only counts toward the rate limits.
            prompt_tokens: if endpoint == Endpoint::CountTokens {
                0
            } else {
                parsed.prompt_tokens
            },
            client_cap: parsed.client_cap,
            choices: parsed.n,
            generates: endpoint.generates(),
            free: endpoint == Endpoint::CountTokens,
            unpriced_tier: parsed.unpriced_tier.as_deref(),
        })
    };
    let shared = state.shares_limits() && state.accounts.has_budget(token.id);
    let mut admission = match admit(&route) {
        // What this instance knows of the others' spend may be stale (their calls ended):
        // ask the database before refusing.
        Err(ApiError::InsufficientQuota(_)) if shared => {
            let global = budget_holds::global(&state.db, token.id)
                .await
                .map_err(|e| ApiError::internal("cannot read the shared budget", e))?;
            state
                .accounts
                .learn_cluster(token.id, global.tokens, global.nano);
            admit(&route)?
        }
        other => other?,
    };
    if let Some(r) = rec.as_mut() {
        r.reservation = admission.reservation;
    }
    if let (true, Some((rpm, tpm)), Some(reservation)) = (
        state.shares_limits(),
        state.accounts.rate_limits(token.id),
        admission.reservation,
    ) {
        // The minute's requests and tokens across the cluster.
        let window = rate_windows::admit(&state.db, token.id, rpm, tpm, reservation.tokens)
            .await
            .map_err(|e| ApiError::internal("cannot read the shared rate window", e))?
            .ok_or_else(|| {
                ApiError::RateLimited(
                    "rate limit reached across the cluster for this minute".into(),
                )
            })?;
        // With a tpm, the window's tokens shrink to the call's usage when it settles.
        if let (Some(r), Some(_)) = (rec.as_mut(), tpm) {
            r.rate_window = Some(WindowShare {
                db: state.db.clone(),
                start: window,
                reserved: reservation.tokens,
            });
        }
    }
    if shared {
        admission = lease_in_cluster(state, rec, token.id, admission, || admit(&route)).await?;
    }
    let mut parsed = parsed;
    parsed.allowance = admission.allowance;
    for (candidate, max_output) in route.candidates.iter_mut().zip(admission.max_output) {
        candidate.max_output = max_output;
    }
    let mut usable = admission.usable.into_iter();
    route.candidates.retain(|_| usable.next().unwrap_or(false));
    if endpoint == Endpoint::CountTokens {
        return super::messages::count(state, client, rec, parsed, route).await;
    }
    proxy::forward(state, client, rec, endpoint, parsed, route).await
}

/// In a cluster, a budgeted call must be covered by this instance's lease on the token's
/// budget, a slice held in the database where every instance's leases meet. Usually it is,
/// and nothing waits on the database. If not, the instance asks for the call's need plus
/// a slice for the calls after it, then for the need alone; refused, the call learns the
/// cluster's figures and is admitted again with the allowance they leave (a smaller
/// completion cap); refused again, it is a 429 like any exhausted budget.
async fn lease_in_cluster(
    state: &AppState,
    rec: &mut Option<CallRecord>,
    token_id: i32,
    first: Admission,
    readmit: impl Fn() -> Result<Admission, ApiError>,
) -> Result<Admission, ApiError> {
    let ttl_ms = state.lease_ttl_ms();
    let mut admission = first;
    for attempt in 0..2 {
        let Some(reservation) = admission.reservation else {
            return Ok(admission);
        };
        let draw = || {
            state
                .accounts
                .draw_lease(&reservation)
                .ok_or(ApiError::InvalidToken)
        };
        if let Draw::Covered(id) = draw()? {
            return Ok(drew(rec, admission, id));
        }
        // One request for more at a time per token; the one before may have covered this.
        let lock = state
            .accounts
            .lease_lock(token_id)
            .ok_or(ApiError::InvalidToken)?;
        let _one_at_a_time = lock.lock().await;
        let short = match draw()? {
            Draw::Covered(id) => return Ok(drew(rec, admission, id)),
            Draw::Short(short) => short,
        };
        let mut asks = vec![(
            short.need_tokens.saturating_add(short.slice_tokens),
            short.need_nano.saturating_add(short.slice_nano),
        )];
        if short.slice_tokens > 0 || short.slice_nano > 0 {
            asks.push((short.need_tokens, short.need_nano));
        }
        let mut global = None;
        for (tokens, nano) in asks {
            let grant = budget_holds::grant(&state.db, token_id, short.lease, tokens, nano, ttl_ms)
                .await
                .map_err(|e| ApiError::internal("cannot lease the budget", e))?;
            match grant {
                Grant::Granted {
                    id,
                    renewed,
                    global,
                } => {
                    state.accounts.lease_granted(
                        token_id,
                        LeaseGrant {
                            id,
                            renewed,
                            tokens,
                            nano,
                            valid_ms: ttl_ms / 2,
                            global_tokens: global.tokens,
                            global_nano: global.nano,
                        },
                    );
                    return Ok(drew(rec, admission, id));
                }
                Grant::Refused(g) => global = Some(g),
            }
        }
        // Refused: give the local reservation back, learn what the cluster holds.
        state.accounts.release(&reservation);
        if let Some(r) = rec.as_mut() {
            r.reservation = None;
        }
        if let Some(g) = global {
            state.accounts.learn_cluster(token_id, g.tokens, g.nano);
        }
        if attempt == 1 {
            break;
        }
        admission = readmit()?;
        if let Some(r) = rec.as_mut() {
            r.reservation = admission.reservation;
        }
    }
    Err(ApiError::InsufficientQuota(
        "token budget is spent or held by calls in flight across the cluster".into(),
    ))
}

/// The call reserved from lease `id`: its usage leaves that lease when it is written.
fn drew(rec: &mut Option<CallRecord>, admission: Admission, id: i64) -> Admission {
    if let Some(r) = rec.as_mut() {
        r.entry.lease_id = Some(id);
    }
    admission
}

pub async fn handle(
    endpoint: Endpoint,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<UpstreamClient>,
) -> HttpResponse {
    let id = request_id(&req);
    let mut rec = Some(CallRecord::new(endpoint, id.to_string(), &state));
    let result = proxied(endpoint, &req, payload, &state, &client, &mut rec).await;
    match result {
        Ok(response) => response,
        Err(err) => {
            if let Some(rec) = rec.take() {
                if err.is_authentication() {
                    // Junk must not cost a log row each: 401s are counted instead.
                    rec.discard();
                } else {
                    rec.fail(&err);
                }
            }
            if let ApiError::Internal { context, detail } = &err {
                log::error!("{id} {}: {context}: {detail}", req.path());
            }
            match endpoint.dialect() {
                Dialect::OpenAi => err.error_response(),
                Dialect::Anthropic => super::messages::error_response(&err),
            }
        }
    }
}

/// `POST /v1/chat/completions`
#[utoipa::path(post, path = "/v1/chat/completions", tag = "client", security(("bearer" = [])),
    request_body = openapi::ChatCompletionRequest,
    responses(
        (status = 200, description = "A chat completion, or with `stream: true` server-sent events \
            (`data: {chunk}` … `data: [DONE]`)",
            content((openapi::ChatCompletion = "application/json"), (String = "text/event-stream"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 502, body = ErrorBody), (status = 503, body = ErrorBody), (status = 504, body = ErrorBody),
    ))]
pub async fn chat_completions(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<UpstreamClient>,
) -> HttpResponse {
    handle(Endpoint::ChatCompletions, req, payload, state, client).await
}

/// `POST /v1/embeddings`
#[utoipa::path(post, path = "/v1/embeddings", tag = "client", security(("bearer" = [])),
    request_body = openapi::EmbeddingsRequest,
    responses(
        (status = 200, body = openapi::Embeddings),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 502, body = ErrorBody), (status = 503, body = ErrorBody), (status = 504, body = ErrorBody),
    ))]
pub async fn embeddings(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<UpstreamClient>,
) -> HttpResponse {
    handle(Endpoint::Embeddings, req, payload, state, client).await
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ModelEntry {
    /// `provider/model`, or the bare name where a model is served.
    pub id: String,
    /// Always `model`.
    pub object: String,
    pub created: i64,
    /// The provider's name.
    pub owned_by: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ModelList {
    /// Always `list`.
    pub object: String,
    pub data: Vec<ModelEntry>,
}

/// `GET /v1/models`: the models this token may use.
#[utoipa::path(get, path = "/v1/models", tag = "client", security(("bearer" = [])),
    responses((status = 200, body = ModelList), (status = 401, body = ErrorBody)))]
pub async fn models(
    ClientAuth(token): ClientAuth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let data = state
        .table()
        .models()
        .into_iter()
        .filter(|m| token.allows(&m.provider, &m.model))
        .map(|m| ModelEntry {
            id: m.id,
            object: "model".into(),
            created: 0,
            owned_by: m.provider,
        })
        .collect();
    Ok(HttpResponse::Ok().json(ModelList {
        object: "list".into(),
        data,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(body: &str) -> Result<ClientRequest, ApiError> {
        parse_request(
            Endpoint::ChatCompletions,
            bytes::Bytes::from(body.to_string()),
        )
    }

    #[test]
    fn validates_chat_bodies() {
        let ok = chat(r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}"#)
            .unwrap();
        assert!(ok.stream && !ok.wants_usage_chunk);
        let param = |r: Result<ClientRequest, ApiError>| r.err().unwrap().param();
        assert_eq!(param(chat(r#"{"messages":[{}]}"#)), Some("model"));
        assert_eq!(param(chat(r#"{"model":5,"messages":[{}]}"#)), Some("model"));
        assert_eq!(param(chat(r#"{"model":"m"}"#)), Some("messages"));
        assert_eq!(
            param(chat(r#"{"model":"m","messages":{}}"#)),
            Some("messages")
        );
        assert_eq!(
            param(chat(r#"{"model":"m","messages":[ ]}"#)),
            Some("messages")
        );
        assert_eq!(
            param(chat(r#"{"model":"m","messages":[{}],"stream":"yes"}"#)),
            Some("stream")
        );
        assert!(chat("[1,2]").is_err());
        assert!(chat("{\"model\":").is_err());
        assert!(chat("").is_err());
        let usage = chat(r#"{"model":"m","messages":[{}],"stream":true,"stream_options":{"include_usage":true}}"#)
            .unwrap();
        assert!(usage.wants_usage_chunk);
    }

    #[test]
    fn validates_embedding_bodies() {
        let emb = |b: &str| parse_request(Endpoint::Embeddings, bytes::Bytes::from(b.to_string()));
        assert!(emb(r#"{"model":"e","input":"text"}"#).is_ok());
        assert!(emb(r#"{"model":"e","input":["a","b"]}"#).is_ok());
        assert_eq!(
            emb(r#"{"model":"e"}"#).err().unwrap().param(),
            Some("input")
        );
        assert_eq!(
            emb(r#"{"model":"e","input":3}"#).err().unwrap().param(),
            Some("input")
        );
    }
}
