//! The prompt bound of a call over the legs its candidates would take: each leg's body as
//! its upstream reads it (the client's body on a pass-through; the core encoded in the
//! upstream's dialect on a translation), images priced for the dearest model serving that
//! leg. The call reserves the largest.

use std::sync::Arc;

use crate::accounting::prompt_bound::{image_tokens, prompt_bound, PromptBound, Reader};
use crate::core::endpoint::Endpoint;
use crate::core::request::Request;
use crate::error::ApiError;
use crate::routing::table::Route;
use crate::upstream::encode::{self, Shape};
use crate::upstream::leg::Leg;
use crate::upstream::quirks::Quirks;
use crate::upstream::ClientRequest;

/// The bound of `req` over the legs of `route`; decodes the request into the core once
/// (kept on `req` for every attempt) when a leg translates it.
pub fn over_legs(
    endpoint: Endpoint,
    req: &mut ClientRequest,
    route: &Route,
) -> Result<PromptBound, ApiError> {
    // At most one pass-through and two translations: no allocation per call.
    let mut legs: [Option<(Leg, &'static Quirks, i64)>; 3] = [None; 3];
    for c in &route.candidates {
        let quirks = c.provider.record.quirks;
        let leg = Leg::of(endpoint, quirks.dialects);
        let image = image_tokens(&c.upstream_model);
        let slot = legs
            .iter_mut()
            .find(|s| s.is_none_or(|(l, _, _)| l == leg))
            .expect("three kinds of leg at most");
        let dearest = slot.map_or(image, |(_, _, d)| d.max(image));
        *slot = Some((leg, slot.map_or(quirks, |(_, q, _)| q), dearest));
    }
    let legs = legs.into_iter().flatten();
    let translates = legs.clone().any(|(l, _, _)| !l.passes_through());
    if translates && req.core.is_none() {
        req.core = Some(Arc::new(crate::dialect::decode_request(
            endpoint.dialect(),
            &req.raw,
        )?));
    }
    let mut bound: Option<PromptBound> = None;
    for (leg, quirks, image_tokens) in legs {
        let reader = Reader {
            dialect: leg.upstream,
            image_tokens,
        };
        let this = match &req.core {
            Some(core) if !leg.passes_through() => {
                prompt_bound(&encoded(core, leg, quirks, req)?, reader)?
            }
            _ => prompt_bound(&req.raw, reader)?,
        };
        bound = Some(match bound {
            Some(b) => b.max(this),
            None => this,
        });
    }
    Ok(bound.unwrap_or_default())
}

/// The core request as the upstream of `leg` will get it (the model and the cap an
/// attempt sets are no prompt: the bound does not depend on them).
fn encoded(
    call: &Request,
    leg: Leg,
    quirks: &'static Quirks,
    req: &ClientRequest,
) -> Result<bytes::Bytes, ApiError> {
    let shape = Shape {
        model: &call.model,
        max_tokens: req.client_cap.or(call.max_output_tokens),
        stream: req.stream,
        quirks,
    };
    encode::translated(call, leg.upstream, &shape)
}
