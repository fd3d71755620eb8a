//! API dialects: typed request, response and stream-event shapes of the OpenAI Chat
//! Completions and Anthropic Messages APIs, and translation between them.
//!
//! A call has a client dialect and an upstream dialect. The same dialect on both sides
//! passes bytes through (fast, lossless); different dialects translate, with unknown fields
//! of the source kept where the target can carry them.

pub mod anthropic;
pub mod chat_to_messages;
pub mod messages_to_chat;
pub mod openai;
pub mod sse;
