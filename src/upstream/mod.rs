//! Upstream adapters: one interface, one implementation per API family.
//!
//! An adapter turns the client's OpenAI-shaped request into the upstream's request, and the
//! upstream's answer (whole or streamed) back into OpenAI's shape, reporting usage.

pub mod api_type;
pub mod client;
pub mod openai;
pub mod usage;

use bytes::{Bytes, BytesMut};

use crate::error::ApiError;
use api_type::ApiType;
pub use usage::Usage;

/// The client-facing operation being proxied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ChatCompletions,
    Embeddings,
}

impl Endpoint {
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "chat.completions",
            Endpoint::Embeddings => "embeddings",
        }
    }
}

/// A parsed client request body: the raw bytes plus the few fields routing needs.
pub struct ClientRequest {
    pub raw: Bytes,
    pub model: String,
    pub stream: bool,
    /// The client asked for a usage chunk (`stream_options.include_usage`).
    pub wants_usage_chunk: bool,
    /// `max_completion_tokens` or `max_tokens`, when the client set one.
    pub max_tokens: Option<i64>,
}

/// What one attempt sends upstream.
pub struct UpstreamRequest {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
}

/// Translates one streamed answer, chunk by chunk, without buffering it.
pub trait StreamTranslator {
    /// Feeds upstream bytes; appends what the client must receive to `out`.
    fn feed(&mut self, chunk: &[u8], out: &mut BytesMut);
    /// Called once at the end of the upstream stream; may append a tail.
    fn finish(&mut self, out: &mut BytesMut);
    /// Usage reported by the upstream, if it arrived.
    fn usage(&self) -> Option<Usage>;
    /// Characters of generated text relayed so far (for an estimate when usage is missing).
    fn generated_chars(&self) -> usize;
    /// Whether the upstream signalled a normal end (`[DONE]`, `message_stop`, ...).
    fn completed(&self) -> bool;
}

/// The shared interface of every upstream family.
pub trait Adapter: Sync {
    /// Builds the request for one attempt: URL, auth headers and body.
    fn request(
        &self,
        base_url: &str,
        key: &str,
        endpoint: Endpoint,
        req: &ClientRequest,
        upstream_model: &str,
    ) -> Result<UpstreamRequest, ApiError>;

    /// Turns a successful non-streaming answer into OpenAI's shape and reads its usage.
    fn response(&self, endpoint: Endpoint, body: Bytes) -> (Bytes, Option<Usage>);

    /// A translator for one streamed answer.
    fn stream(&self, req: &ClientRequest) -> Box<dyn StreamTranslator>;
}

/// The adapter for a provider's API type.
pub fn adapter_for(api_type: ApiType) -> Result<&'static dyn Adapter, ApiError> {
    match api_type {
        ApiType::OpenAi | ApiType::DeepSeek | ApiType::Zhipu => Ok(&openai::OpenAiAdapter),
        ApiType::Anthropic => Err(ApiError::NoUpstream(
            "anthropic providers are not supported by this build yet".into(),
        )),
    }
}
