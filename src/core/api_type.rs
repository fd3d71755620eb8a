//! The kinds of upstream API a provider can speak.

use std::fmt;

use super::endpoint::{Dialect, Endpoint};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiType {
    OpenAi,
    Anthropic,
    Zhipu,
    DeepSeek,
}

impl ApiType {
    /// Case-insensitive: `OpenAI`, `openai` and `OPENAI` are the same.
    pub fn parse(text: &str) -> Option<ApiType> {
        match text.to_ascii_lowercase().as_str() {
            "openai" => Some(ApiType::OpenAi),
            "anthropic" => Some(ApiType::Anthropic),
            "zhipu" | "glm" => Some(ApiType::Zhipu),
            "deepseek" => Some(ApiType::DeepSeek),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ApiType::OpenAi => "openai",
            ApiType::Anthropic => "anthropic",
            ApiType::Zhipu => "zhipu",
            ApiType::DeepSeek => "deepseek",
        }
    }

    pub fn default_base_url(self) -> &'static str {
        match self {
            ApiType::OpenAi => "https://api.openai.com/v1",
            ApiType::Anthropic => "https://api.anthropic.com/v1",
            ApiType::Zhipu => "https://open.bigmodel.cn/api/paas/v4",
            ApiType::DeepSeek => "https://api.deepseek.com/v1",
        }
    }
}

impl fmt::Display for ApiType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ApiType {
    /// Whether this kind of upstream serves `endpoint` (routing skips those that do not).
    pub fn serves(self, endpoint: Endpoint) -> bool {
        match endpoint {
            Endpoint::Embeddings => self != ApiType::Anthropic,
            // Other types are answered with a local estimate (see the handler).
            Endpoint::CountTokens => self == ApiType::Anthropic,
            _ => true,
        }
    }

    /// The dialect an upstream of this type speaks.
    pub fn dialect(self) -> Dialect {
        match self {
            ApiType::Anthropic => Dialect::Messages,
            _ => Dialect::Chat,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ApiType;

    #[test]
    fn parses_case_insensitively() {
        assert_eq!(ApiType::parse("OpenAI"), Some(ApiType::OpenAi));
        assert_eq!(ApiType::parse("DEEPSEEK"), Some(ApiType::DeepSeek));
        assert_eq!(ApiType::parse("azure"), None);
        for t in [
            ApiType::OpenAi,
            ApiType::Anthropic,
            ApiType::Zhipu,
            ApiType::DeepSeek,
        ] {
            assert_eq!(ApiType::parse(t.as_str()), Some(t));
        }
    }
}
