//! The call flow every proxied endpoint shares: authenticate, read and parse the body in the
//! client's dialect, admit, then forward (or count), rendering errors in that dialect.

use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde_json::json;

use super::anthropic_body;
use super::openai_body;
use super::support::{authenticate, read_body, request_id};
use crate::admission;
use crate::call::CallRecord;
use crate::core::endpoint::{Dialect, Endpoint};
use crate::core::usage::{TextEstimate, Usage};
use crate::error::ApiError;
use crate::proxy;
use crate::routing::table::Route;
use crate::state::AppState;
use crate::upstream::client::UpstreamClient;
use crate::upstream::ClientRequest;

/// One proxied call of `endpoint`, start to end; its errors in the client's dialect.
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
                Dialect::Anthropic => anthropic_body::error_response(&err),
            }
        }
    }
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
    let mut parsed = match endpoint {
        Endpoint::Messages => anthropic_body::parse(req, raw, true)?,
        Endpoint::CountTokens => anthropic_body::parse(req, raw, false)?,
        _ => openai_body::parse_request(endpoint, raw)?,
    };
    if let Some(r) = rec.as_mut() {
        r.entry.requested_model = Some(parsed.model.clone());
        r.entry.stream = parsed.stream;
    }
    let route = state.table().resolve(&parsed.model)?;
    let Some(record) = rec.as_mut() else {
        return Err(ApiError::internal("call record missing", "admitted twice"));
    };
    let route = admission::admit(state, &token, endpoint, &mut parsed, route, record).await?;
    if endpoint == Endpoint::CountTokens {
        return count(state, client, rec, parsed, route).await;
    }
    proxy::forward(state, client, rec, endpoint, parsed, route).await
}

/// Counts a prompt once admission passed it: asked of the Anthropic providers that serve the
/// model through the same attempt loop as any call (key choice, timeouts, body limit,
/// failover), else — another provider type, or every Anthropic key cooling — estimated
/// here. Logged as `count_tokens`, at no cost.
pub async fn count(
    state: &AppState,
    client: &UpstreamClient,
    rec: &mut Option<CallRecord>,
    req: ClientRequest,
    mut route: Route,
) -> Result<HttpResponse, ApiError> {
    let raw = req.raw.clone();
    route
        .candidates
        .retain(|c| c.provider.record.api_type.serves(Endpoint::CountTokens));
    if !route.candidates.is_empty() {
        match proxy::forward(state, client, rec, Endpoint::CountTokens, req, route).await {
            Err(ApiError::NoUpstream(_) | ApiError::Cooling { .. }) => {}
            answered => return answered,
        }
    }
    if let Some(mut record) = rec.take() {
        record.set_usage_or_estimate(Some(Usage::default()), 0, 0);
        record.finish(200);
    }
    Ok(HttpResponse::Ok().json(json!({"input_tokens": TextEstimate::of_bytes(&raw).tokens()})))
}
