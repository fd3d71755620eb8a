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
//! reader and a client writer, event by event. Adding a dialect is one folder (its wire
//! shapes and two mappers) and one arm in each function below; `upstream::leg` decides
//! which calls come here.

pub mod chat;
pub mod errors;
pub mod messages;
pub mod outline;
pub mod responses;
pub mod sse;
pub mod translate;

use std::sync::Arc;

use bytes::Bytes;

use crate::core::endpoint::Dialect;
use crate::core::reply::Reply;
use crate::core::request::Request;
use crate::core::stream::{EventReader, EventWriter};
use crate::error::ApiError;

/// The client side of one call (the application calling the gateway): its dialect and what that dialect's answers need beyond
/// the core's (OpenAI's usage chunk; the Responses API's id, echoed parameters and tool
/// names).
#[derive(Clone, Copy)]
pub enum ClientSide<'a> {
    /// Chat Completions; `usage_chunk`: the client asked for usage in the stream
    /// (`stream_options.include_usage`).
    Chat {
        usage_chunk: bool,
    },
    Messages,
    Responses(&'a Arc<responses::Context>),
}

/// The client's request body as the core's request (client side).
pub fn decode_request(client: Dialect, raw: &[u8]) -> Result<Request, ApiError> {
    match client {
        Dialect::Chat => chat::client::decode_request(raw),
        Dialect::Messages => messages::client::decode_request(raw),
        Dialect::Responses => responses::client::decode_request(raw),
    }
}

/// A whole answer in the client's dialect (client side). `created` is the answer's time
/// in seconds, where the dialect shows one.
pub fn encode_reply(client: ClientSide<'_>, reply: &Reply, created: i64) -> Bytes {
    match client {
        ClientSide::Chat { .. } => chat::client::encode_reply(reply, created),
        ClientSide::Messages => messages::client::encode_reply(reply),
        ClientSide::Responses(ctx) => responses::output::encode_reply(reply, ctx),
    }
}

/// The writer of a stream in the client's dialect (client side).
pub fn event_writer(client: ClientSide<'_>, created: i64) -> Box<dyn EventWriter> {
    match client {
        ClientSide::Chat { usage_chunk } => {
            Box::new(chat::client::ChunkWriter::new(usage_chunk, created))
        }
        ClientSide::Messages => Box::new(messages::client::EventSequenceWriter::default()),
        ClientSide::Responses(ctx) => {
            Box::new(responses::events::ResponseEventWriter::new(ctx.clone()))
        }
    }
}

/// An upstream's whole answer in its dialect as the core's reply (upstream side).
pub fn decode_reply(upstream: Dialect, body: &[u8]) -> Result<Reply, String> {
    match upstream {
        Dialect::Chat => chat::upstream::decode_reply(body),
        Dialect::Messages => messages::upstream::decode_reply(body),
        Dialect::Responses => Err("no call is translated from the Responses API".into()),
    }
}

/// The reader of an upstream's stream in its dialect (upstream side).
pub fn event_reader(upstream: Dialect) -> Box<dyn EventReader> {
    match upstream {
        Dialect::Chat => Box::new(chat::upstream::ChunkReader::default()),
        Dialect::Messages => Box::new(messages::upstream::MessageEventReader::default()),
        Dialect::Responses => Box::new(responses::upstream::ResponseEventReader::default()),
    }
}

#[cfg(test)]
mod tests;
