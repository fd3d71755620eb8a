//! API dialects. Each dialect is a folder with its wire shapes and two mappers onto the
//! typed core model of a call (`crate::core::{call, reply, event}`):
//!
//! - the *client side* decodes the client's request into the core and encodes core
//!   answers and stream events into the client's shapes;
//! - the *upstream side* encodes the core request into the upstream's shapes and decodes
//!   its answers and stream events into the core.
//!
//! A call whose client and upstream speak the same dialect never comes here: its bytes
//! pass through (fast, lossless). A translated call goes client side → core → upstream
//! side, and back; a translated stream is one `translate::Translation` of an upstream
//! reader and a client writer, event by event. Adding a dialect is two mappers and one
//! arm in each function below.

pub mod anthropic;
pub mod openai;
pub mod responses;
pub mod sse;
pub mod translate;

use std::sync::Arc;

use bytes::Bytes;

use crate::core::call::Request;
use crate::core::endpoint::Dialect;
use crate::core::reply::Reply;
use crate::core::stream::EventWriter;
use crate::error::ApiError;

/// The client side of one call: its dialect and what that dialect's answers need beyond
/// the core's (OpenAI's usage chunk; the Responses API's id, echoed parameters and tool
/// names).
#[derive(Clone, Copy)]
pub enum Client<'a> {
    /// Chat Completions; `usage_chunk`: the client asked for usage in the stream
    /// (`stream_options.include_usage`).
    OpenAi {
        usage_chunk: bool,
    },
    Anthropic,
    Responses(&'a Arc<responses::Context>),
}

/// The client's request body as the core's request (client side).
pub fn decode_request(client: Dialect, raw: &[u8]) -> Result<Request, ApiError> {
    match client {
        Dialect::OpenAi => openai::client::decode_request(raw),
        Dialect::Anthropic => anthropic::client::decode_request(raw),
        Dialect::Responses => responses::client::decode_request(raw),
    }
}

/// A whole answer in the client's dialect (client side). `created` is the answer's time
/// in seconds, where the dialect shows one.
pub fn encode_reply(client: Client<'_>, reply: &Reply, created: i64) -> Bytes {
    match client {
        Client::OpenAi { .. } => openai::client::encode_reply(reply, created),
        Client::Anthropic => anthropic::client::encode_reply(reply),
        Client::Responses(ctx) => responses::output::encode_reply(reply, ctx),
    }
}

/// The writer of a stream in the client's dialect (client side).
pub fn event_writer(client: Client<'_>, created: i64) -> Box<dyn EventWriter> {
    match client {
        Client::OpenAi { usage_chunk } => {
            Box::new(openai::client::ChunkWriter::new(usage_chunk, created))
        }
        Client::Anthropic => Box::new(anthropic::client::EventSequenceWriter::default()),
        Client::Responses(ctx) => {
            Box::new(responses::events::ResponseEventWriter::new(ctx.clone()))
        }
    }
}

#[cfg(test)]
mod tests;
