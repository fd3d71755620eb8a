//! OpenAI Chat Completions: its wire shapes, the client-side mapper (an OpenAI-speaking
//! client's request into the core, core answers and events into Chat Completions answers
//! and chunks), the upstream-side mapper (the core request into a Chat Completions
//! request, an OpenAI-compatible upstream's answers and chunks into the core) and the
//! scanner of a stream passed through (`scan`).

pub mod client;
pub mod scan;
pub mod upstream;
mod wire;

pub use wire::*;
