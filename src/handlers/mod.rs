//! HTTP handlers, grouped by API. They parse and check input, then hand off to actors.

pub mod admin;
pub mod auth;
pub mod client;
pub mod extract;
pub mod messages;
pub mod ops;
pub mod support;
pub mod token;
