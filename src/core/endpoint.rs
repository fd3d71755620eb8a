//! What a call is: the client-facing operation and the dialects spoken on each side.

/// The API a client speaks, or an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// OpenAI's Chat Completions (and embeddings), spoken by every OpenAI-compatible server.
    Chat,
    /// Anthropic's Messages API.
    Messages,
    /// OpenAI's Responses API.
    Responses,
}

/// The client-facing operation being proxied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ChatCompletions,
    Embeddings,
    /// Anthropic's Messages API (`/v1/messages`).
    Messages,
    /// Anthropic's token counting (`/v1/messages/count_tokens`): metered like any call,
    /// costs nothing, generates nothing.
    CountTokens,
    /// OpenAI's Responses API (`/v1/responses`).
    Responses,
}

impl Endpoint {
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "chat.completions",
            Endpoint::Embeddings => "embeddings",
            Endpoint::Messages => "messages",
            Endpoint::CountTokens => "count_tokens",
            Endpoint::Responses => "responses",
        }
    }

    /// The dialect the client speaks on this endpoint.
    pub fn dialect(self) -> Dialect {
        match self {
            Endpoint::Messages | Endpoint::CountTokens => Dialect::Messages,
            Endpoint::Responses => Dialect::Responses,
            _ => Dialect::Chat,
        }
    }

    /// Whether calls generate a completion (and so can be capped).
    pub fn generates(self) -> bool {
        !matches!(self, Endpoint::Embeddings | Endpoint::CountTokens)
    }
}
