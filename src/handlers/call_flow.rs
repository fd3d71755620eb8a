//! The call flow every proxied endpoint shares: authenticate, read and parse the body in the
//! client's dialect, admit, then forward (or count), rendering errors in that dialect.

use crate::trace_context::TraceContext;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::bearer::authenticate;
use super::body::read_body;
use super::chat_body;
use super::messages_body;
use super::request_id::request_id;
use super::responses_body;
use super::who;
use crate::admission;
use crate::call_record::CallRecord;
use crate::core::endpoint::Endpoint;
use crate::core::usage::{TextEstimate, Usage};
use crate::error::ApiError;
use crate::proxy::{self, Unanswered};
use crate::routing::table::Route;
use crate::state::AppState;
use crate::upstream::http::UpstreamHttp;
use crate::upstream::ClientRequest;

/// Where a call's body comes from: the client's upload, or bytes a handler made.
pub enum CallBody {
    Upload(web::Payload),
    Made(bytes::Bytes),
    /// A compaction: the summarising Responses call, and the client's own compaction body
    /// for a native Responses upstream.
    Compaction {
        summarising: bytes::Bytes,
        native: bytes::Bytes,
    },
}

/// One proxied call of `endpoint`, start to end; its errors in the client's dialect.
pub async fn handle(
    endpoint: Endpoint,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<UpstreamHttp>,
) -> HttpResponse {
    let body = CallBody::Upload(payload);
    handle_as(endpoint, endpoint.name(), &req, body, &state, &client).await
}

/// As [`handle`], logged as `log_name` (a compaction is a Responses call logged as
/// `responses.compact`), with its body from `body`.
pub async fn handle_as(
    endpoint: Endpoint,
    log_name: &'static str,
    req: &HttpRequest,
    body: CallBody,
    state: &AppState,
    client: &UpstreamHttp,
) -> HttpResponse {
    let id = request_id(req);
    let mut rec = CallRecord::new(endpoint, id.to_string(), state);
    rec.entry.endpoint = log_name;
    let Unanswered { error, record } = match proxied(endpoint, req, body, state, client, rec).await
    {
        Ok(response) => return response,
        Err(unanswered) => unanswered,
    };
    if error.is_authentication() {
        // Junk must not cost a log row each: 401s are counted instead.
        record.discard();
    } else {
        record.fail(&error);
    }
    if let ApiError::Internal { context, detail } = &error {
        log::error!("{id} {}: {context}: {detail}", req.path());
    }
    crate::dialect::errors::answer(endpoint.dialect(), &error)
}

async fn proxied(
    endpoint: Endpoint,
    req: &HttpRequest,
    payload: CallBody,
    state: &AppState,
    client: &UpstreamHttp,
    mut rec: CallRecord,
) -> Result<HttpResponse, Unanswered> {
    // Each phase is boxed: inline, the async fn kept a slot for each (and copies of their
    // arguments), and this future — alive while the call waits for the upstream's head, so
    // 8,000 times over with 8,000 streams opening — was 8.4 KB; boxed it is 1 KB.
    let admitting = Box::pin(admitted(endpoint, req, payload, state, &mut rec));
    let (parsed, route) = match admitting.await {
        Ok(admitted) => admitted,
        Err(error) => return Err(Unanswered { error, record: rec }),
    };
    if endpoint == Endpoint::CountTokens {
        // Boxed like `forward`: it holds an attempt loop of its own.
        return Box::pin(count(state, client, rec, parsed, route)).await;
    }
    Box::pin(proxy::forward(state, client, rec, endpoint, parsed, route)).await
}

/// Authenticates, reads and parses the call, and admits it: the request and its route.
async fn admitted(
    endpoint: Endpoint,
    req: &HttpRequest,
    payload: CallBody,
    state: &AppState,
    rec: &mut CallRecord,
) -> Result<(ClientRequest, Route), ApiError> {
    let token = authenticate(state, req).await?;
    rec.entry.token_id = Some(token.id);
    rec.entry.team_id = token.team_id;
    rec.entry.session_id = who::session(req);
    let trace = TraceContext::from_headers(req.headers());
    if let Some(tracing) = &state.tracing {
        rec.trace = tracing.start_call(endpoint, trace.as_ref(), rec.started, &token);
    }
    rec.entry.trace_id = match &rec.trace {
        Some(spans) => Some(spans.trace_id()),
        None => trace.as_ref().map(|t| t.trace_id.clone()),
    };
    let (raw, compaction) = match payload {
        CallBody::Upload(p) => {
            let max = state.settings.server.max_body_bytes;
            (read_body(req, p, max).await?, None)
        }
        CallBody::Made(bytes) => (bytes, None),
        CallBody::Compaction {
            summarising,
            native,
        } => (summarising, Some(native)),
    };
    let mut parsed = match endpoint {
        Endpoint::Messages => messages_body::parse(req, raw, true)?,
        Endpoint::CountTokens => messages_body::parse(req, raw, false)?,
        Endpoint::Responses => responses_body::parse(raw)?,
        _ => chat_body::parse_request(endpoint, raw)?,
    };
    parsed.compaction = compaction;
    match rec.trace.as_mut() {
        // Each attempt's request names its own span (`CallTrace::start_attempt`).
        Some(spans) => spans.request(&parsed.model, parsed.client_cap, &parsed.raw),
        // Not traced here: the client's context goes on as it came.
        None => parsed.trace = trace,
    }
    rec.entry.end_user = who::end_user(req, parsed.end_user.take());
    rec.entry.requested_model = Some(parsed.model.clone());
    rec.entry.stream = parsed.stream;
    let route = state.table().resolve(&parsed.model)?;
    // Limits first: a refused call costs what a small one does.
    let route = admission::check(state, &token, endpoint, route).inspect_err(|_| refused(rec))?;
    // Last of the cheap checks: a call refused above takes no slot.
    let slots = admission::take_slots(state, &token)
        .await
        .inspect_err(|_| refused(rec))?;
    if let Some(ctx) = &parsed.responses {
        if ctx.store {
            state.response_quota.admit(token.id).await?;
        }
        responses_body::resolve_chain(state, token.id, &mut parsed).await?;
    }
    let searches = &mut rec.searches_at_least;
    let (route, hold) =
        admission::admit(state, &token, endpoint, &mut parsed, route, slots, searches)
            .await
            .inspect_err(|_| refused(rec))?;
    rec.hold = Some(hold);
    if let Some(spans) = rec.trace.as_mut() {
        spans.budget("admitted");
    }
    Ok((parsed, route))
}

/// Admission refused the call (a limit, a budget, the allow-list): its trace says so.
fn refused(rec: &mut CallRecord) {
    if let Some(spans) = rec.trace.as_mut() {
        spans.budget("refused");
    }
}

/// Counts a prompt once admission passed it: asked of the Anthropic providers that serve the
/// model through the same attempt loop as any call (key choice, timeouts, body limit,
/// failover), else — another provider type, or every Anthropic key cooling — estimated
/// here. Logged as `count_tokens`, at no cost.
pub async fn count(
    state: &AppState,
    client: &UpstreamHttp,
    mut rec: CallRecord,
    req: ClientRequest,
    mut route: Route,
) -> Result<HttpResponse, Unanswered> {
    let raw = req.raw.clone();
    route
        .candidates
        .retain(|c| c.provider.record.api_type.serves(Endpoint::CountTokens));
    if !route.candidates.is_empty() {
        match proxy::forward(state, client, rec, Endpoint::CountTokens, req, route).await {
            Err(Unanswered {
                error: ApiError::NoUpstream(_) | ApiError::Cooling { .. },
                record,
            }) => rec = record,
            answered => return answered,
        }
    }
    rec.set_usage_or_estimate(Some(Usage::default()), 0, 0);
    rec.finish(200);
    Ok(HttpResponse::Ok().json(json!({"input_tokens": TextEstimate::of_bytes(&raw).tokens()})))
}
