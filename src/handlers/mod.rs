//! HTTP handlers, grouped by API. They parse and check input, then hand off to actors.

pub mod admin;
pub mod auth;
pub mod bearer;
pub mod body;
pub mod call_flow;
pub mod chat;
pub mod chat_body;
pub mod console;
pub mod extract;
pub mod messages;
pub mod messages_body;
pub mod ops;
pub mod request_id;
pub mod responses;
pub mod responses_body;
pub mod schemas;
pub mod token;
