//! Anthropic Messages: its wire shapes, the client-side mapper (an Anthropic-speaking
//! client's request into the core, core answers and events into Messages answers and
//! Anthropic's event sequence) and the upstream-side mapper (the core request into a
//! Messages request, an Anthropic upstream's answers and events into the core).

pub mod client;
pub mod upstream;
mod wire;

pub use wire::*;
