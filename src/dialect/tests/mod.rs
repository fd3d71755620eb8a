//! The two translated directions end to end through the core (client side → core →
//! upstream side, and back), on fixtures shaped like the two APIs' documented examples.

mod anthropic_to_openai;
mod openai_to_anthropic;

use serde_json::Value;

use super::anthropic::client::EventSequenceWriter;
use super::anthropic::upstream::MessageEventReader;
use super::openai::client::ChunkWriter;
use super::openai::upstream::ChunkReader;
use super::openai::CapField;
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
    let call = super::decode_request(Dialect::OpenAi, chat.to_string().as_bytes())?;
    let req = super::anthropic::upstream::encode_request(&call, model, max_tokens, stream)?;
    Ok(serde_json::to_value(req).unwrap())
}

/// A Messages answer as the Chat Completions answer the client gets.
fn messages_to_chat_answer(body: &[u8], created: i64) -> Result<(Value, Option<Usage>), String> {
    let reply = super::anthropic::upstream::decode_reply(body)?;
    let answer = super::encode_reply(
        super::Client::OpenAi { usage_chunk: false },
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
    let call = super::decode_request(Dialect::Anthropic, messages.to_string().as_bytes())?;
    let target = super::openai::upstream::Target {
        model,
        max_tokens: Some(max_tokens),
        cap_field,
        stream,
    };
    let req = super::openai::upstream::encode_request(&call, &target)?;
    Ok(serde_json::to_value(req).unwrap())
}

/// A Chat Completions answer as the Messages answer the client gets.
fn chat_to_messages_answer(body: &[u8]) -> Result<(Value, Option<Usage>, i64), String> {
    let reply = super::openai::upstream::decode_reply(body)?;
    let answer = super::encode_reply(super::Client::Anthropic, &reply, 0);
    Ok((
        serde_json::from_slice(&answer).unwrap(),
        reply.usage,
        reply.generated(),
    ))
}
