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
pub mod sse;
pub mod translate;

use bytes::Bytes;

use crate::core::call::Request;
use crate::core::endpoint::Dialect;
use crate::core::reply::Reply;
use crate::core::stream::EventWriter;
use crate::error::ApiError;

/// The client's request body as the core's request (client side).
pub fn decode_request(client: Dialect, raw: &[u8]) -> Result<Request, ApiError> {
    match client {
        Dialect::OpenAi => openai::client::decode_request(raw),
        Dialect::Anthropic => anthropic::client::decode_request(raw),
    }
}

/// A whole answer in the client's dialect (client side). `created` is the answer's time
/// in seconds, where the dialect shows one.
pub fn encode_reply(client: Dialect, reply: &Reply, created: i64) -> Bytes {
    match client {
        Dialect::OpenAi => openai::client::encode_reply(reply, created),
        Dialect::Anthropic => anthropic::client::encode_reply(reply),
    }
}

/// The writer of a stream in the client's dialect (client side). `usage_chunk`: the
/// client asked for usage in the stream (OpenAI's `stream_options.include_usage`).
pub fn event_writer(client: Dialect, usage_chunk: bool, created: i64) -> Box<dyn EventWriter> {
    match client {
        Dialect::OpenAi => Box::new(openai::client::ChunkWriter::new(usage_chunk, created)),
        Dialect::Anthropic => Box::new(anthropic::client::EventSequenceWriter::default()),
    }
}

#[cfg(test)]
mod tests;
