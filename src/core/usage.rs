//! Token usage as upstreams report it.

use serde::Deserialize;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    /// Prompt tokens read from the upstream's cache (part of `prompt_tokens`).
    pub cached_tokens: i64,
    /// Prompt tokens written to the upstream's cache (Anthropic; part of `prompt_tokens`).
    pub cache_write_tokens: i64,
    /// Of those, the ones written for an hour (Anthropic's `ephemeral_1h_input_tokens`),
    /// billed dearer than the 5-minute ones.
    pub cache_write_1h_tokens: i64,
    pub reasoning_tokens: i64,
    /// Web searches the provider ran for the call (`server_tool_use.web_search_requests`,
    /// a Responses answer's `web_search_call` items), billed per use.
    pub web_search_requests: i64,
    /// Audio tokens inside the prompt and the completion (OpenAI's `audio_tokens` details),
    /// billed at the audio prices.
    pub audio_input_tokens: i64,
    pub audio_output_tokens: i64,
    /// The service tier the answer says it was served at.
    pub service_tier: ServiceTier,
}

/// The service tier an answer names (`service_tier`): priced by the price book's
/// multipliers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ServiceTier {
    /// Standard, default, auto, batch, anything else: the book's prices.
    #[default]
    Standard,
    Flex,
    Priority,
}

impl ServiceTier {
    pub fn parse(name: &str) -> ServiceTier {
        match name {
            "flex" => ServiceTier::Flex,
            "priority" => ServiceTier::Priority,
            _ => ServiceTier::Standard,
        }
    }

    /// The name the log keeps (`None`: standard).
    pub fn name(self) -> Option<&'static str> {
        match self {
            ServiceTier::Standard => None,
            ServiceTier::Flex => Some("flex"),
            ServiceTier::Priority => Some("priority"),
        }
    }
}

/// OpenAI's `usage` object (also DeepSeek's and Zhipu's).
#[derive(Debug, Deserialize, Default)]
pub struct OpenAiUsage {
    #[serde(default)]
    prompt_tokens: i64,
    #[serde(default)]
    completion_tokens: i64,
    #[serde(default)]
    total_tokens: Option<i64>,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetails>,
    #[serde(default)]
    completion_tokens_details: Option<CompletionDetails>,
    /// DeepSeek reports cache hits here.
    #[serde(default)]
    prompt_cache_hit_tokens: Option<i64>,
}

#[derive(Debug, Deserialize, Default)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: Option<i64>,
    #[serde(default)]
    audio_tokens: Option<i64>,
}

#[derive(Debug, Deserialize, Default)]
struct CompletionDetails {
    #[serde(default)]
    reasoning_tokens: Option<i64>,
    #[serde(default)]
    audio_tokens: Option<i64>,
}

impl Usage {
    /// Usage as an upstream reported it, made sane (upstream numbers are not trusted):
    /// negative counts are 0, sums saturate, the total is never below its parts, cached
    /// tokens lie within the prompt and reasoning within the completion.
    pub fn reported(
        prompt: i64,
        completion: i64,
        total: Option<i64>,
        cached: i64,
        reasoning: i64,
    ) -> Usage {
        let prompt = prompt.max(0);
        let completion = completion.max(0);
        let parts = prompt.saturating_add(completion);
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: total.unwrap_or(parts).max(parts),
            cached_tokens: cached.clamp(0, prompt),
            reasoning_tokens: reasoning.clamp(0, completion),
            ..Usage::default()
        }
    }
}

impl OpenAiUsage {
    /// The usage of an answer that names its service tier (`service_tier` beside `usage`).
    pub fn billed(self, service_tier: Option<&str>) -> Usage {
        Usage {
            service_tier: ServiceTier::parse(service_tier.unwrap_or("")),
            ..Usage::from(self)
        }
    }
}

impl From<OpenAiUsage> for Usage {
    fn from(u: OpenAiUsage) -> Usage {
        let prompt = u.prompt_tokens_details.unwrap_or_default();
        let completion = u.completion_tokens_details.unwrap_or_default();
        let usage = Usage::reported(
            u.prompt_tokens,
            u.completion_tokens,
            u.total_tokens,
            prompt
                .cached_tokens
                .or(u.prompt_cache_hit_tokens)
                .unwrap_or(0),
            completion.reasoning_tokens.unwrap_or(0),
        );
        Usage {
            audio_input_tokens: prompt
                .audio_tokens
                .unwrap_or(0)
                .clamp(0, usage.prompt_tokens),
            audio_output_tokens: completion
                .audio_tokens
                .unwrap_or(0)
                .clamp(0, usage.completion_tokens),
            ..usage
        }
    }
}

/// A token estimate for text whose usage the upstream never reported, and for prompts at
/// admission: ASCII at 4 characters a token, CJK (Han, kana, Hangul, full-width forms) at a
/// token a character, other scripts at 2 characters a token. Linear in the text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextEstimate {
    ascii: usize,
    wide: usize,
    other: usize,
}

fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF | 0x2E80..=0x9FFF | 0xA960..=0xA97F | 0xAC00..=0xD7FF
        | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFFEF | 0x20000..=0x3FFFF)
}

impl TextEstimate {
    pub fn add(&mut self, text: &str) {
        let ascii = text.bytes().filter(u8::is_ascii).count();
        self.ascii += ascii;
        if ascii < text.len() {
            for c in text.chars().filter(|c| !c.is_ascii()) {
                if is_wide(c) {
                    self.wide += 1;
                } else {
                    self.other += 1;
                }
            }
        }
    }

    /// The estimate of raw bytes (a request body); invalid UTF-8 counts as other text.
    pub fn of_bytes(bytes: &[u8]) -> TextEstimate {
        let mut e = TextEstimate::default();
        e.add(&String::from_utf8_lossy(bytes));
        e
    }

    pub fn tokens(&self) -> i64 {
        (self.ascii.div_ceil(4) + self.wide + self.other.div_ceil(2)) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_details() {
        let u: OpenAiUsage = serde_json::from_str(
            r#"{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,
               "prompt_tokens_details":{"cached_tokens":4},
               "completion_tokens_details":{"reasoning_tokens":2}}"#,
        )
        .unwrap();
        assert_eq!(
            Usage::from(u),
            Usage {
                prompt_tokens: 10,
                completion_tokens: 5,
                total_tokens: 15,
                cached_tokens: 4,
                reasoning_tokens: 2,
                ..Usage::default()
            }
        );
        let u: OpenAiUsage = serde_json::from_str(r#"{"prompt_tokens":3}"#).unwrap();
        assert_eq!(Usage::from(u).total_tokens, 3);
    }

    #[test]
    fn estimates_by_script() {
        let tokens = |t: &str| {
            let mut e = TextEstimate::default();
            e.add(t);
            e.tokens()
        };
        assert_eq!(tokens("Hello world!"), 3);
        assert_eq!(
            tokens("你好，世界"),
            5,
            "CJK and full-width punctuation: one each"
        );
        assert_eq!(tokens("Привет"), 3);
        assert_eq!(tokens(""), 0);
        assert_eq!(TextEstimate::of_bytes("ab你".as_bytes()).tokens(), 2);
    }
}
