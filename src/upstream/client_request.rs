//! The client's request as the gateway carries it through a call: the raw bytes, the few
//! fields routing, budgets and attempts need, and — where a leg translates — the request
//! decoded into the core once.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;

use crate::core::endpoint::{Dialect, Endpoint};
use crate::core::request::Request;
use crate::core::usage::TextEstimate;
use crate::dialect::responses::Context as ResponsesContext;
use crate::dialect::ClientSide;
use crate::error::ApiError;

/// A parsed client request body: the raw bytes plus the few fields routing and budgets need.
#[derive(Debug, Clone, Default)]
pub struct ClientRequest {
    pub raw: Bytes,
    pub model: String,
    pub stream: bool,
    /// The client asked for a usage chunk (`stream_options.include_usage`).
    pub wants_usage_chunk: bool,
    /// The client's own completion cap: the larger of `max_completion_tokens` and
    /// `max_tokens` when both are set (an upstream may honour either).
    pub client_cap: Option<i64>,
    /// Which cap fields the client sent (a rewritten cap goes into the same ones).
    pub sent_max_tokens: bool,
    pub sent_max_completion_tokens: bool,
    /// Choices asked for (`n`), 1 when absent.
    pub n: i64,
    /// An upper bound of the prompt tokens the upstream will count (what admission
    /// reserves).
    pub prompt_tokens: i64,
    /// Content whose prompt cost has no bound (budgeted tokens are refused it), and why.
    pub unbounded: Option<String>,
    /// The cache writes the request asks for (its prompt is reserved at their price).
    pub cache: crate::pricing::CacheAsk,
    /// Web searches the provider may run for it, at most (reserved at their per-use price).
    pub web_searches: i64,
    /// Completion tokens per choice the token's budget can pay for; `None`: unlimited.
    pub allowance: Option<i64>,
    /// A compaction's own body (`/v1/responses/compact`), which a native Responses upstream
    /// compacts itself when the token has no budget to cap (`raw` is then the summarising
    /// call every other leg makes).
    pub compaction: Option<Bytes>,
    /// A `service_tier` the price book cannot price (`priority`, `scale`, …), if asked for.
    pub unpriced_tier: Option<String>,
    /// The `anthropic-*` headers an Anthropic client sent (`anthropic-version`,
    /// `anthropic-beta`, and any the API adds), each value as sent, for an Anthropic
    /// upstream on a pass-through leg: the body fields they switch on pass with them.
    pub forwarded_headers: Vec<(http::HeaderName, String)>,
    /// The client's W3C trace context, passed on to the upstream as it came.
    pub trace: Option<crate::trace_context::TraceContext>,
    /// A Responses-API call's client-side context (its id, echoed parameters, tool names).
    pub responses: Option<Arc<ResponsesContext>>,
    /// The request decoded into the core, once, when a candidate translates it.
    pub core: Option<Arc<Request>>,
    /// Who the body says the call is for (`user`, `safety_identifier`,
    /// `metadata.user_id`), as a label.
    pub end_user: Option<String>,
}

impl ClientRequest {
    /// The client side of this call, for answers written in its dialect.
    pub fn client_side(&self, endpoint: Endpoint) -> ClientSide<'_> {
        match (endpoint.dialect(), &self.responses) {
            (Dialect::Messages, _) => ClientSide::Messages,
            (Dialect::Responses, Some(ctx)) => ClientSide::Responses(ctx),
            _ => ClientSide::Chat {
                usage_chunk: self.wants_usage_chunk,
            },
        }
    }

    /// The request in the core model: decoded at admission where a leg translates (every
    /// attempt reuses it), else now.
    pub fn core_request(&self, endpoint: Endpoint) -> Result<Cow<'_, Request>, ApiError> {
        match &self.core {
            Some(core) => Ok(Cow::Borrowed(core.as_ref())),
            None => crate::dialect::decode_request(endpoint.dialect(), &self.raw).map(Cow::Owned),
        }
    }

    /// A typical estimate of the prompt tokens (what a call is billed when the upstream
    /// reports none); computed only then, off the common path.
    pub fn prompt_estimate(&self) -> i64 {
        TextEstimate::of_bytes(&self.raw).tokens()
    }

    /// The completion cap to send to a candidate whose model outputs at most `max_output`
    /// tokens (`None`: unknown). A call whose token has a budget is never sent uncapped:
    /// - with the client's own cap: the budget's allowance where it is lower (never above
    ///   the model's limit), else the client's cap itself (so that an upstream reading
    ///   another field than the one the client used gets it too);
    /// - without one, for a model whose maximum output is known: the allowance where it is
    ///   lower, else nothing (the model stops at its maximum, which was reserved);
    /// - for a model whose maximum is unknown: the allowance, at most `default`.
    ///
    /// Without a budget the client's request is left as it is (`None`).
    pub fn cap_for(&self, max_output: Option<i64>, default: i64) -> Option<i64> {
        let allowance = self.allowance?.max(1);
        match (self.client_cap, max_output) {
            (Some(own), _) if allowance < own => {
                Some(allowance.min(max_output.unwrap_or(i64::MAX)))
            }
            (Some(own), _) => Some(own),
            (None, Some(max)) => (allowance < max).then_some(allowance),
            (None, None) => Some(allowance.min(default)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_decoded_at_admission_is_never_decoded_again() {
        let decoded = crate::dialect::decode_request(
            Dialect::Messages,
            br#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"Hi"}]}"#,
        )
        .unwrap();
        let req = ClientRequest {
            // Bytes no decoder would accept: an attempt that decoded them would fail.
            raw: Bytes::from_static(b"\xff not json"),
            core: Some(Arc::new(decoded)),
            ..ClientRequest::default()
        };
        let first = req.core_request(Endpoint::Messages).unwrap();
        let again = req.core_request(Endpoint::Messages).unwrap();
        assert!(matches!(first, Cow::Borrowed(_)) && matches!(again, Cow::Borrowed(_)));
        assert!(std::ptr::eq(first.as_ref(), again.as_ref()));
        assert_eq!(first.model, "m");
    }
}
