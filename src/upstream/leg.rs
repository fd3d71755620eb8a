//! A call leg: the dialect the client speaks and the one its upstream reads, for one
//! candidate provider. The one decision "pass through or translate" is made here: same
//! dialect, the client's bytes go on (`rewrite` edits them where they must change);
//! different, the request decoded once into the core is encoded for the upstream
//! (`encode`), and the answer comes back through the core (`answer`, `stream`).

use crate::core::endpoint::{Dialect, Endpoint};
use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leg {
    pub client: Dialect,
    pub upstream: Dialect,
}

impl Leg {
    /// The leg of a call to `endpoint` on a provider speaking `dialects` (its own first:
    /// the one other clients are translated to).
    pub fn of(endpoint: Endpoint, dialects: &[Dialect]) -> Leg {
        let client = endpoint.dialect();
        let upstream = if dialects.contains(&client) {
            client
        } else {
            dialects.first().copied().unwrap_or(client)
        };
        Leg { client, upstream }
    }

    /// Client and upstream speak the same dialect: the client's bytes go on.
    pub fn passes_through(self) -> bool {
        self.client == self.upstream
    }

    /// The upstream path (after the provider's base URL) that serves `endpoint` on this
    /// leg. Only generating calls translate: embeddings and token counting need an
    /// upstream of their own dialect.
    pub fn path(self, endpoint: Endpoint) -> Result<&'static str, ApiError> {
        if self.passes_through() {
            return Ok(match endpoint {
                Endpoint::ChatCompletions => "/chat/completions",
                Endpoint::Embeddings => "/embeddings",
                Endpoint::Messages => "/messages",
                Endpoint::CountTokens => "/messages/count_tokens",
                Endpoint::Responses => "/responses",
            });
        }
        match (endpoint, self.upstream) {
            (Endpoint::Embeddings, _) => Err(ApiError::invalid(
                "Anthropic providers do not serve embeddings",
            )),
            (Endpoint::CountTokens, _) => Err(ApiError::invalid(
                "OpenAI-type providers do not count tokens (estimated locally)",
            )),
            (_, Dialect::Chat) => Ok("/chat/completions"),
            (_, Dialect::Messages) => Ok("/messages"),
            (_, Dialect::Responses) => Ok("/responses"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAT: &[Dialect] = &[Dialect::Chat];
    const CHAT_AND_RESPONSES: &[Dialect] = &[Dialect::Chat, Dialect::Responses];
    const MESSAGES: &[Dialect] = &[Dialect::Messages];

    #[test]
    fn a_leg_passes_through_where_the_provider_speaks_the_clients_dialect() {
        let leg = |endpoint, dialects| Leg::of(endpoint, dialects);
        assert!(leg(Endpoint::ChatCompletions, CHAT).passes_through());
        assert!(leg(Endpoint::Messages, MESSAGES).passes_through());
        assert!(leg(Endpoint::Responses, CHAT_AND_RESPONSES).passes_through());
        assert_eq!(
            leg(Endpoint::Responses, CHAT),
            Leg {
                client: Dialect::Responses,
                upstream: Dialect::Chat
            }
        );
        assert_eq!(
            leg(Endpoint::Responses, MESSAGES).upstream,
            Dialect::Messages
        );
        assert_eq!(
            leg(Endpoint::Messages, CHAT_AND_RESPONSES).upstream,
            Dialect::Chat
        );
        assert_eq!(
            leg(Endpoint::ChatCompletions, MESSAGES).upstream,
            Dialect::Messages
        );
    }

    #[test]
    fn paths_follow_the_upstream_dialect() {
        let path = |endpoint, dialects| Leg::of(endpoint, dialects).path(endpoint);
        assert_eq!(path(Endpoint::Messages, CHAT).unwrap(), "/chat/completions");
        assert_eq!(
            path(Endpoint::Responses, CHAT_AND_RESPONSES).unwrap(),
            "/responses"
        );
        assert_eq!(path(Endpoint::Responses, MESSAGES).unwrap(), "/messages");
        assert_eq!(
            path(Endpoint::CountTokens, MESSAGES).unwrap(),
            "/messages/count_tokens"
        );
        assert!(path(Endpoint::Embeddings, MESSAGES).is_err());
        assert!(path(Endpoint::CountTokens, CHAT).is_err());
    }
}
