//! What the spans say, by name: the OpenTelemetry GenAI semantic conventions' attributes
//! and values, and the gateway's own under one prefix (`gateway.`). Pure, so the mapping
//! from a call to its names is tested here.

use crate::core::api_type::ApiType;
use crate::core::endpoint::Endpoint;

pub const OPERATION_NAME: &str = "gen_ai.operation.name";
pub const PROVIDER_NAME: &str = "gen_ai.provider.name";
pub const REQUEST_MODEL: &str = "gen_ai.request.model";
pub const REQUEST_MAX_TOKENS: &str = "gen_ai.request.max_tokens";
pub const RESPONSE_MODEL: &str = "gen_ai.response.model";
pub const RESPONSE_ID: &str = "gen_ai.response.id";
pub const RESPONSE_FINISH_REASONS: &str = "gen_ai.response.finish_reasons";
pub const USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
pub const USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
pub const USAGE_CACHE_READ: &str = "gen_ai.usage.cache_read.input_tokens";
pub const USAGE_CACHE_CREATION: &str = "gen_ai.usage.cache_creation.input_tokens";
pub const USAGE_REASONING: &str = "gen_ai.usage.reasoning.output_tokens";
pub const INPUT_MESSAGES: &str = "gen_ai.input.messages";
pub const OUTPUT_MESSAGES: &str = "gen_ai.output.messages";
pub const CONVERSATION_ID: &str = "gen_ai.conversation.id";
pub const SERVER_ADDRESS: &str = "server.address";
pub const SERVER_PORT: &str = "server.port";
pub const ERROR_TYPE: &str = "error.type";
pub const HTTP_STATUS: &str = "http.response.status_code";

/// The event marking the first streamed chunk relayed to the client.
pub const FIRST_TOKEN_EVENT: &str = "gen_ai.first_token";

pub const TOKEN_ID: &str = "gateway.token.id";
pub const TOKEN_NAME: &str = "gateway.token.name";
pub const TEAM_ID: &str = "gateway.team.id";
pub const END_USER: &str = "gateway.end_user";
pub const SESSION_ID: &str = "gateway.session.id";
pub const REQUEST_ID: &str = "gateway.request.id";
pub const COST_USD: &str = "gateway.cost.usd";
pub const USAGE_ESTIMATED: &str = "gateway.usage.estimated";
pub const CACHE_HIT: &str = "gateway.cache.hit";
pub const BUDGET_OUTCOME: &str = "gateway.budget.outcome";
pub const PROVIDER: &str = "gateway.provider";
pub const KEY_ID: &str = "gateway.upstream_key.id";
pub const KEY_MASKED: &str = "gateway.upstream_key.masked";
pub const ATTEMPT: &str = "gateway.attempt";
pub const ATTEMPTS: &str = "gateway.attempts";
pub const STREAM: &str = "gateway.stream";
pub const CUT_REASON: &str = "gateway.stream.cut_reason";
pub const TIME_TO_FIRST_TOKEN_MS: &str = "gateway.time_to_first_token_ms";
pub const ENDPOINT: &str = "gateway.endpoint";

/// `gen_ai.operation.name` of a call to `endpoint` (the conventions' `chat` for every
/// generating dialect; counting has no convention of its own).
pub fn operation(endpoint: Endpoint) -> &'static str {
    match endpoint {
        Endpoint::ChatCompletions | Endpoint::Messages | Endpoint::Responses => "chat",
        Endpoint::Embeddings => "embeddings",
        Endpoint::CountTokens => "count_tokens",
    }
}

/// `gen_ai.provider.name` of a provider of `api_type`: the conventions' well-known values
/// (`openai`, `anthropic`, `deepseek`), and `zhipu_ai` for GLM, which has none.
pub fn provider_name(api_type: ApiType) -> &'static str {
    match api_type {
        ApiType::OpenAi => "openai",
        ApiType::Anthropic => "anthropic",
        ApiType::DeepSeek => "deepseek",
        ApiType::Zhipu => "zhipu_ai",
    }
}

/// The span name the conventions ask for: `{operation} {model}` (the model cut to 128
/// bytes).
pub fn span_name(operation: &str, model: &str) -> String {
    match model {
        "" => operation.to_string(),
        m => format!("{operation} {}", crate::core::text::truncate(m, 128)),
    }
}

/// `server.address` and `server.port` of an upstream base URL (checked when the provider
/// was saved), read without a URL parser: one allocation, once per attempt.
pub fn server_of(base_url: &str) -> Option<(String, i64)> {
    let (scheme, rest) = base_url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']')?;
            (host, after.strip_prefix(':'))
        }
        None => match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        },
    };
    let port = match port {
        Some(p) => p.parse::<u16>().ok()?,
        None if scheme.eq_ignore_ascii_case("https") => 443,
        None if scheme.eq_ignore_ascii_case("http") => 80,
        None => return None,
    };
    (!host.is_empty()).then(|| (host.to_ascii_lowercase(), i64::from(port)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_providers_names_and_servers() {
        assert_eq!(operation(Endpoint::Messages), "chat");
        assert_eq!(operation(Endpoint::Responses), "chat");
        assert_eq!(operation(Endpoint::Embeddings), "embeddings");
        assert_eq!(provider_name(ApiType::Anthropic), "anthropic");
        assert_eq!(provider_name(ApiType::Zhipu), "zhipu_ai");
        assert_eq!(span_name("chat", "gpt-4o"), "chat gpt-4o");
        assert_eq!(span_name("chat", ""), "chat");
        assert_eq!(
            server_of("https://api.openai.com/v1"),
            Some(("api.openai.com".into(), 443))
        );
        assert_eq!(
            server_of("http://127.0.0.1:9001/v1"),
            Some(("127.0.0.1".into(), 9001))
        );
        assert_eq!(server_of("not a url"), None);
        assert_eq!(
            server_of("https://user:pw@[::1]:8443/v1?x=1"),
            Some(("::1".into(), 8443))
        );
        assert_eq!(
            server_of("http://Open.BigModel.cn/api/paas/v4"),
            Some(("open.bigmodel.cn".into(), 80))
        );
        assert_eq!(server_of("http://host:notaport/v1"), None);
    }
}
