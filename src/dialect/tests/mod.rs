//! The two translated directions end to end through the core (client side → core →
//! upstream side, and back), on fixtures shaped like the two APIs' documented examples.

mod chat_to_messages;
mod messages_to_chat;

use serde_json::Value;

use super::chat::client::ChunkWriter;
use super::chat::upstream::ChunkReader;
use super::chat::CapField;
use super::messages::client::EventSequenceWriter;
use super::messages::upstream::MessageEventReader;
use super::translate::Translation;
use crate::core::endpoint::Dialect;
use crate::core::usage::Usage;

/// An OpenAI client's stream from an Anthropic upstream.
type MessagesToChatStream = Translation<MessageEventReader, ChunkWriter>;
/// An Anthropic client's stream from an OpenAI-compatible upstream.
type ChatToMessagesStream = Translation<ChunkReader, EventSequenceWriter>;

fn messages_to_chat_stream(
    usage_chunk: bool,
    created: i64,
    max_line: usize,
) -> MessagesToChatStream {
    Translation::new(
        MessageEventReader::default(),
        ChunkWriter::new(usage_chunk, created),
        max_line,
    )
}

fn chat_to_messages_stream(max_line: usize) -> ChatToMessagesStream {
    Translation::new(
        ChunkReader::default(),
        EventSequenceWriter::default(),
        max_line,
    )
}

/// A Chat Completions request body as the Messages request sent upstream.
fn chat_to_messages_request(
    chat: &Value,
    model: &str,
    max_tokens: i64,
    stream: bool,
) -> Result<Value, crate::error::ApiError> {
    let call = super::decode_request(Dialect::Chat, chat.to_string().as_bytes())?;
    let req = super::messages::upstream::encode_request(&call, model, max_tokens, stream)?;
    Ok(serde_json::to_value(req).unwrap())
}

/// A Messages answer as the Chat Completions answer the client gets.
fn messages_to_chat_answer(body: &[u8], created: i64) -> Result<(Value, Option<Usage>), String> {
    let reply = super::messages::upstream::decode_reply(body)?;
    let answer = super::encode_reply(
        super::ClientSide::Chat { usage_chunk: false },
        &reply,
        created,
    );
    Ok((serde_json::from_slice(&answer).unwrap(), reply.usage))
}

/// A Messages request body as the Chat Completions request sent upstream.
fn messages_to_chat_request(
    messages: &Value,
    model: &str,
    max_tokens: i64,
    cap_field: CapField,
    stream: bool,
) -> Result<Value, crate::error::ApiError> {
    let call = super::decode_request(Dialect::Messages, messages.to_string().as_bytes())?;
    let target = super::chat::upstream::ChatShape {
        model,
        max_tokens: Some(max_tokens),
        cap_field,
        stream,
    };
    let req = super::chat::upstream::encode_request(&call, &target)?;
    Ok(serde_json::to_value(req).unwrap())
}

/// A Chat Completions answer as the Messages answer the client gets.
fn chat_to_messages_answer(body: &[u8]) -> Result<(Value, Option<Usage>, i64), String> {
    let reply = super::chat::upstream::decode_reply(body)?;
    let answer = super::encode_reply(super::ClientSide::Messages, &reply, 0);
    Ok((
        serde_json::from_slice(&answer).unwrap(),
        reply.usage,
        reply.generated(),
    ))
}
