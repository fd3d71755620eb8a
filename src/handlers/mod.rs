//! HTTP handlers, grouped by API: they parse and check input, hand a call to admission and
//! the proxy (or an admin change to its actor) and render the answer in the client's
//! dialect.

pub mod admin;
pub mod auth;
pub mod bearer;
pub mod body;
pub mod call_flow;
pub mod chat;
pub mod chat_body;
pub mod compact;
pub mod console;
pub mod extract;
pub mod messages;
pub mod messages_body;
pub mod models;
pub mod ops;
pub mod request_id;
pub mod responses;
pub mod responses_body;
pub mod responses_socket;
pub mod schemas;
pub mod token;
pub mod who;
