//! HTTP handlers, grouped by API. They parse and check input, then hand off to actors.

pub mod admin;
pub mod anthropic_body;
pub mod auth;
pub mod call;
pub mod client;
pub mod console;
pub mod extract;
pub mod messages;
pub mod openai_body;
pub mod ops;
pub mod responses;
pub mod responses_body;
pub mod schemas;
pub mod support;
pub mod token;
