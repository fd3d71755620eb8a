//! The Anthropic adapter (`api_type = "anthropic"`): Anthropic-speaking clients pass
//! through; other clients reach Claude through their dialect's client side, the core, and
//! `dialect::anthropic::upstream`.

use bytes::Bytes;

use super::{Adapter, Answer, ClientRequest, Target, UpstreamRequest};
use crate::core::endpoint::Endpoint;
use crate::core::stream::StreamTranslator;
use crate::dialect::anthropic::upstream::{
    decode_reply, encode_request, MessageEventReader, MIN_THINKING_BUDGET,
};
use crate::dialect::anthropic::API_VERSION;
use crate::dialect::translate::{PassThrough, Translation};
use crate::error::ApiError;

/// `max_tokens` sent when neither the client, the budget nor the price book names one
/// (Anthropic requires it).
pub const DEFAULT_MAX_TOKENS: i64 = 4096;

pub struct AnthropicAdapter;

fn now_secs() -> i64 {
    crate::time::now_ms() / 1000
}

impl Adapter for AnthropicAdapter {
    fn request(
        &self,
        target: &Target<'_>,
        endpoint: Endpoint,
        req: &ClientRequest,
    ) -> Result<UpstreamRequest, ApiError> {
        match endpoint {
            Endpoint::ChatCompletions | Endpoint::Responses => {}
            Endpoint::Messages => return pass_through(target, req, "/messages"),
            Endpoint::CountTokens => return pass_through(target, req, "/messages/count_tokens"),
            Endpoint::Embeddings => {
                return Err(ApiError::invalid(
                    "Anthropic providers do not serve embeddings",
                ))
            }
        }
        if req.n > 1 {
            return Err(ApiError::invalid_param(
                "n",
                "Anthropic models answer one choice at a time (n must be 1)",
            ));
        }
        let call = req.core_request(endpoint)?;
        let max_tokens = target
            .completion_cap
            .or(req.client_cap)
            .or(target.max_output)
            .unwrap_or(DEFAULT_MAX_TOKENS);
        let body = encode_request(&call, target.model, max_tokens, req.stream)?;
        let body = serde_json::to_vec(&body)
            .map(Bytes::from)
            .map_err(|e| ApiError::internal("cannot encode request", e))?;
        Ok(UpstreamRequest {
            url: format!("{}/messages", target.base_url),
            headers: vec![
                ("x-api-key", target.key.to_string()),
                ("anthropic-version", API_VERSION.to_string()),
            ],
            body,
        })
    }

    fn response(&self, endpoint: Endpoint, req: &ClientRequest, body: Bytes) -> Answer {
        match endpoint {
            Endpoint::Messages => return native_answer(body),
            // Counting generates nothing and costs nothing.
            Endpoint::CountTokens => {
                return Answer::relayed(body, Some(crate::core::usage::Usage::default()), 0)
            }
            _ => {}
        }
        match decode_reply(&body) {
            Ok(reply) => Answer::translated(endpoint, req, &reply),
            Err(e) => {
                log::warn!("{e}");
                Answer::relayed(body, None, 0)
            }
        }
    }

    fn stream(
        &self,
        _: &Target<'_>,
        endpoint: Endpoint,
        req: &ClientRequest,
        max_line: usize,
    ) -> Box<dyn StreamTranslator> {
        match endpoint {
            Endpoint::Messages | Endpoint::CountTokens => {
                Box::new(PassThrough::new(MessageEventReader::default(), max_line))
            }
            _ => Box::new(Translation::new(
                MessageEventReader::default(),
                crate::dialect::event_writer(req.client(endpoint), now_secs()),
                max_line,
            )),
        }
    }
}

/// An Anthropic client's request to an Anthropic upstream: the client's bytes, with the
/// model name and the budget's cap changed only when they must be, and the client's
/// `anthropic-version` / `anthropic-beta` headers.
fn pass_through(
    target: &Target<'_>,
    req: &ClientRequest,
    path: &str,
) -> Result<UpstreamRequest, ApiError> {
    // A budget's cap replaces the client's `max_tokens` only when it is lower.
    let cap = target
        .completion_cap
        .filter(|cap| req.client_cap != Some(*cap));
    let thinking = cap.is_some() && mentions(&req.raw, b"\"budget_tokens\"");
    let body = if target.model == req.model && cap.is_none() {
        req.raw.clone()
    } else {
        let mut map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&req.raw)
            .map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?;
        map.insert("model".into(), target.model.into());
        if let Some(cap) = cap {
            map.insert("max_tokens".into(), cap.into());
            if thinking {
                fit_thinking(&mut map, cap);
            }
        }
        serde_json::to_vec(&map)
            .map(Bytes::from)
            .map_err(|e| ApiError::internal("cannot encode request", e))?
    };
    let mut headers = vec![("x-api-key", target.key.to_string())];
    let version = req
        .forwarded_headers
        .iter()
        .find(|(name, _)| *name == "anthropic-version")
        .map_or(API_VERSION.to_string(), |(_, v)| v.clone());
    headers.push(("anthropic-version", version));
    headers.extend(
        req.forwarded_headers
            .iter()
            .filter(|(name, _)| *name == "anthropic-beta")
            .cloned(),
    );
    Ok(UpstreamRequest {
        url: format!("{}{path}", target.base_url),
        headers,
        body,
    })
}

fn mentions(raw: &[u8], field: &[u8]) -> bool {
    raw.windows(field.len()).any(|w| w == field)
}

/// Keeps `thinking.budget_tokens` below a lowered `max_tokens` (Anthropic refuses a budget
/// at or above it): lowered to `cap - 1`, or thinking dropped when that leaves less than
/// the smallest budget Anthropic accepts.
pub fn fit_thinking(map: &mut serde_json::Map<String, serde_json::Value>, cap: i64) {
    let budget = map
        .get("thinking")
        .and_then(|t| t.get("budget_tokens"))
        .and_then(serde_json::Value::as_i64);
    match budget {
        Some(b) if b >= cap && cap > MIN_THINKING_BUDGET => {
            map["thinking"]["budget_tokens"] = (cap - 1).into();
        }
        Some(b) if b >= cap => {
            map.remove("thinking");
        }
        _ => {}
    }
}

/// A native Messages answer, passed on as it is; its usage read.
fn native_answer(body: Bytes) -> Answer {
    let (usage, generated) = decode_reply(&body)
        .map(|reply| (reply.usage, reply.generated()))
        .unwrap_or((None, 0));
    Answer::relayed(body, usage, generated)
}
