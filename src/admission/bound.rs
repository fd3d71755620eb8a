//! The prompt bound of a call over the legs its candidates would take: each leg's body as
//! its upstream reads it (the client's body on a pass-through; the core encoded in the
//! upstream's dialect on a translation), images priced for the dearest model serving that
//! leg. The call reserves the largest.

use std::sync::Arc;

use crate::accounting::prompt_bound::{image_tokens, prompt_bound, PromptBound, Reader};
use crate::core::call::Request;
use crate::core::endpoint::{Dialect, Endpoint};
use crate::dialect::anthropic::upstream as messages;
use crate::dialect::openai::upstream as chat;
use crate::dialect::openai::CapField;
use crate::error::ApiError;
use crate::routing::table::Route;
use crate::upstream::anthropic::DEFAULT_MAX_TOKENS;
use crate::upstream::leg::Leg;
use crate::upstream::ClientRequest;

/// The bound of `req` over the legs of `route`; decodes the request into the core once
/// (kept on `req` for every attempt) when a leg translates it.
pub fn over_legs(
    endpoint: Endpoint,
    req: &mut ClientRequest,
    route: &Route,
) -> Result<PromptBound, ApiError> {
    // At most one pass-through and two translations: no allocation per call.
    let mut legs: [Option<(Leg, i64)>; 3] = [None; 3];
    for c in &route.candidates {
        let record = &c.provider.record;
        let leg = Leg::of(endpoint, record.api_type, record.native_responses);
        let image = image_tokens(&c.upstream_model);
        let slot = legs
            .iter_mut()
            .find(|s| s.is_none_or(|(l, _)| l == leg))
            .expect("three kinds of leg at most");
        let dearest = slot.map_or(image, |(_, d)| d.max(image));
        *slot = Some((leg, dearest));
    }
    let legs = legs.into_iter().flatten();
    let translates = legs
        .clone()
        .any(|(l, _)| matches!(l, Leg::Translated { .. }));
    if translates && req.core.is_none() {
        req.core = Some(Arc::new(crate::dialect::decode_request(
            endpoint.dialect(),
            &req.raw,
        )?));
    }
    let mut bound: Option<PromptBound> = None;
    for (leg, image_tokens) in legs {
        let reader = Reader {
            dialect: leg.upstream(),
            image_tokens,
        };
        let this = match (leg, &req.core) {
            (Leg::Translated { to }, Some(core)) => prompt_bound(&encoded(core, to, req)?, reader)?,
            _ => prompt_bound(&req.raw, reader)?,
        };
        bound = Some(match bound {
            Some(b) => b.max(this),
            None => this,
        });
    }
    Ok(bound.unwrap_or_default())
}

/// The core request as an upstream of `to` will get it (the model and the cap an attempt
/// sets are no prompt: the bound does not depend on them).
fn encoded(call: &Request, to: Dialect, req: &ClientRequest) -> Result<Vec<u8>, ApiError> {
    let cap = req.client_cap.or(call.max_output_tokens);
    let body = match to {
        Dialect::OpenAi => {
            let target = chat::Target {
                model: &call.model,
                max_tokens: cap,
                cap_field: CapField::MaxCompletionTokens,
                stream: req.stream,
            };
            serde_json::to_vec(&chat::encode_request(call, &target)?)
        }
        Dialect::Anthropic => serde_json::to_vec(&messages::encode_request(
            call,
            &call.model,
            cap.unwrap_or(DEFAULT_MAX_TOKENS),
            req.stream,
        )?),
        Dialect::Responses => {
            return Err(ApiError::internal(
                "no call is translated into the Responses API",
                "",
            ))
        }
    };
    body.map_err(|e| ApiError::internal("cannot encode request", e))
}
