//! One attempt's upstream request: the path its leg serves the endpoint on, the key as
//! the vendor reads it, and the body — the client's bytes rewritten where they must be on
//! a pass-through leg, the core encoded for the upstream on a translated one.

use bytes::Bytes;
use http::HeaderName;

use super::encode::{self, Shape};
use super::quirks::Auth;
use super::{rewrite, ClientRequest, Target, UpstreamRequest};
use crate::core::endpoint::{Dialect, Endpoint};
use crate::dialect::messages::API_VERSION;
use crate::error::ApiError;
use crate::trace_context::TraceContext;

/// Builds the request of one attempt on `target`.
pub fn build(
    target: &Target<'_>,
    endpoint: Endpoint,
    req: &ClientRequest,
) -> Result<UpstreamRequest, ApiError> {
    let leg = target.leg;
    if let Some(native) = native_compaction(target, req) {
        return native.map(|body| UpstreamRequest {
            url: format!("{}/responses/compact", target.base_url),
            headers: headers(target, req),
            body,
        });
    }
    let path = leg.path(endpoint)?;
    let body = if leg.passes_through() {
        rewrite::body(leg.upstream, target, req)?
    } else {
        if leg.upstream == Dialect::Messages && req.n > 1 {
            return Err(ApiError::invalid_param(
                "n",
                "Anthropic models answer one choice at a time (n must be 1)",
            ));
        }
        let call = req.core_request(endpoint)?;
        let fallback = match leg.upstream {
            // Anthropic requires a cap: the model's largest output, where it is known.
            Dialect::Messages => target.max_output,
            _ => call.max_output_tokens,
        };
        let shape = Shape {
            model: target.model,
            max_tokens: target.completion_cap.or(req.client_cap).or(fallback),
            stream: req.stream,
            quirks: target.quirks,
        };
        encode::translated(&call, leg.upstream, &shape)?
    };
    Ok(UpstreamRequest {
        url: format!("{}{path}", target.base_url),
        headers: headers(target, req),
        body,
    })
}

/// A compaction's own body for a native Responses upstream, its model the provider's —
/// only for a token without a budget: the compaction endpoint takes no output cap, so a
/// budgeted token's compaction is the summarising call, capped like any.
fn native_compaction(target: &Target<'_>, req: &ClientRequest) -> Option<Result<Bytes, ApiError>> {
    let body = req.compaction.as_ref()?;
    let native = target.leg.passes_through() && target.leg.upstream == Dialect::Responses;
    if !native || req.allowance.is_some() {
        return None;
    }
    let rewrite = || {
        let mut map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body)
            .map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?;
        map.insert("model".into(), target.model.into());
        serde_json::to_vec(&map)
            .map(Bytes::from)
            .map_err(|e| ApiError::internal("compaction body", e))
    };
    Some(rewrite())
}

/// The key as the vendor reads it; on a pass-through leg, an Anthropic client's
/// `anthropic-*` headers go on to the Anthropic upstream (an open list: a beta header and
/// the body fields it switches on pass together); `anthropic-version` is always sent.
fn headers(target: &Target<'_>, req: &ClientRequest) -> Vec<(HeaderName, String)> {
    let mut headers = auth_headers(target, req);
    if let Some(trace) = &req.trace {
        push_trace(&mut headers, trace);
    }
    headers
}

fn push_trace(headers: &mut Vec<(HeaderName, String)>, trace: &TraceContext) {
    headers.push((TRACEPARENT, trace.traceparent()));
    if let Some(state) = &trace.state {
        headers.push((TRACESTATE, state.clone()));
    }
}

/// Names the gateway's attempt span as the upstream's parent (`traceparent`, with the
/// client's `tracestate`); a traced call's request carries no other trace context.
pub fn set_trace(up: &mut UpstreamRequest, traceparent: String, state: Option<&str>) {
    debug_assert!(up.headers.iter().all(|(name, _)| name != TRACEPARENT));
    up.headers.push((TRACEPARENT, traceparent));
    if let Some(state) = state {
        up.headers.push((TRACESTATE, state.to_string()));
    }
}

/// The W3C trace headers, on the upstream's side (its `http` crate's names).
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// The key as the vendor reads it, and the `anthropic-*` headers that go with it.
fn auth_headers(target: &Target<'_>, req: &ClientRequest) -> Vec<(HeaderName, String)> {
    match target.quirks.auth {
        Auth::Bearer => vec![(
            http::header::AUTHORIZATION,
            format!("Bearer {}", target.key),
        )],
        Auth::XApiKey => {
            let forwarded: &[(HeaderName, String)] = if target.leg.passes_through() {
                &req.forwarded_headers
            } else {
                &[]
            };
            let mut headers = Vec::with_capacity(2 + forwarded.len());
            headers.push((HeaderName::from_static("x-api-key"), target.key.to_string()));
            if !forwarded
                .iter()
                .any(|(name, _)| name == "anthropic-version")
            {
                let version = HeaderName::from_static("anthropic-version");
                headers.push((version, API_VERSION.to_string()));
            }
            headers.extend(forwarded.iter().cloned());
            headers
        }
    }
}
