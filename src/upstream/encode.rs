//! The body of a translated leg: the core request (decoded once per call) encoded in the
//! upstream's dialect, with the vendor's quirks. Admission measures this same body for
//! the prompt bound, so what is reserved is what is sent.

use bytes::Bytes;
use serde_json::Value;

use super::quirks::{Quirks, Sampling};
use crate::core::endpoint::Dialect;
use crate::core::request::Request;
use crate::dialect::chat::upstream::{self as chat, ChatShape};
use crate::dialect::messages::upstream as messages;
use crate::error::ApiError;

/// `max_tokens` sent to a Messages upstream when neither the client, the budget nor the
/// price book names one (Anthropic requires it).
pub const DEFAULT_MAX_TOKENS: i64 = 4096;

/// What a translated body is written with besides the call.
pub struct Shape<'a> {
    pub model: &'a str,
    /// The completion cap, where one is decided (a Messages upstream gets
    /// [`DEFAULT_MAX_TOKENS`] without).
    pub max_tokens: Option<i64>,
    pub stream: bool,
    pub quirks: &'static Quirks,
}

/// `call` as an upstream of dialect `to` reads it.
pub fn translated(call: &Request, to: Dialect, shape: &Shape<'_>) -> Result<Bytes, ApiError> {
    let body = match to {
        Dialect::Chat => {
            let chat_shape = ChatShape {
                model: shape.model,
                max_tokens: shape.max_tokens,
                cap_field: shape.quirks.cap_field,
                stream: shape.stream,
            };
            let request = chat::encode_request(call, &chat_shape)?;
            let edits = shape.quirks.sampling != Sampling::Open
                || (shape.stream && !shape.quirks.ask_stream_usage);
            if !edits {
                // Written straight from the typed request: no JSON tree in between.
                serde_json::to_vec(&request)
            } else {
                let mut body = serde_json::to_value(request)
                    .map_err(|e| ApiError::internal("cannot encode request", e))?;
                if let Value::Object(map) = &mut body {
                    shape.quirks.fit_sampling(map);
                    if !shape.quirks.ask_stream_usage {
                        map.remove("stream_options");
                    }
                }
                serde_json::to_vec(&body)
            }
        }
        Dialect::Messages => {
            let max_tokens = shape.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
            let body = messages::encode_request(call, shape.model, max_tokens, shape.stream)?;
            serde_json::to_vec(&body)
        }
        Dialect::Responses => {
            return Err(ApiError::internal(
                "no call is translated into the Responses API",
                "",
            ))
        }
    };
    body.map(Bytes::from)
        .map_err(|e| ApiError::internal("cannot encode request", e))
}
