//! The upstream side of a call: for each candidate a [`leg::Leg`] (the client's dialect
//! and the upstream's) and the vendor's row of [`quirks`]; from them one generic attempt
//! builds the request (`request`: `rewrite` on a pass-through leg, `encode` on a
//! translated one), reads a whole answer (`answer`) or chooses a stream's reader
//! (`stream`). `http` sends it; `routing::key_outcome` classifies a refusal.

pub mod answer;
mod client_request;
pub mod encode;
pub mod http;
pub mod leg;
pub mod quirks;
pub mod request;
mod rewrite;
pub mod stream;

use bytes::Bytes;

pub use answer::Answer;
pub use client_request::ClientRequest;
use leg::Leg;
use quirks::Quirks;

/// What one attempt sends upstream.
pub struct UpstreamRequest {
    pub url: String,
    pub headers: Vec<(::http::HeaderName, String)>,
    pub body: Bytes,
}

/// What an attempt targets: the provider's address and key, its leg and quirks, the model
/// name to send and the completion cap, if any.
pub struct Target<'a> {
    pub base_url: &'a str,
    pub key: &'a str,
    pub model: &'a str,
    pub completion_cap: Option<i64>,
    /// The model's largest output, where the price book knows it.
    pub max_output: Option<i64>,
    pub leg: Leg,
    pub quirks: &'static Quirks,
}
