//! The default price list (USD per million tokens: input, output, cached input) and each
//! model's largest output, seeded into `model_prices` for models that have no row yet.
//! Vendors' public list prices and limits; admins override any of them with
//! `PUT /admin/model-prices`, and an edited row is never replaced.

use super::Price;

pub struct DefaultPrice {
    pub model: &'static str,
    pub input: f64,
    pub output: f64,
    pub cached: Option<f64>,
    pub max_output_tokens: Option<i64>,
}

impl DefaultPrice {
    pub fn price(&self) -> Price {
        Price {
            input_per_million: self.input,
            output_per_million: self.output,
            cached_input_per_million: self.cached,
            max_output_tokens: self.max_output_tokens,
            // Anthropic bills 5-minute cache writes at 1.25 × input; others do not bill them.
            cache_write_per_million: self
                .model
                .starts_with("claude")
                .then_some(self.input * 1.25),
            ..Price::default()
        }
        .with_family_defaults(self.model)
    }
}

const fn p(
    model: &'static str,
    input: f64,
    output: f64,
    cached: Option<f64>,
    max_output_tokens: Option<i64>,
) -> DefaultPrice {
    DefaultPrice {
        model,
        input,
        output,
        cached,
        max_output_tokens,
    }
}

pub const DEFAULT_PRICES: &[DefaultPrice] = &[
    // OpenAI
    p("gpt-5", 1.25, 10.0, Some(0.125), Some(128_000)),
    p("gpt-5-mini", 0.25, 2.0, Some(0.025), Some(128_000)),
    p("gpt-5-nano", 0.05, 0.40, Some(0.005), Some(128_000)),
    p("gpt-4.1", 2.0, 8.0, Some(0.50), Some(32_768)),
    p("gpt-4.1-mini", 0.40, 1.60, Some(0.10), Some(32_768)),
    p("gpt-4.1-nano", 0.10, 0.40, Some(0.025), Some(32_768)),
    p("gpt-4o", 2.50, 10.0, Some(1.25), Some(16_384)),
    p("gpt-4o-mini", 0.15, 0.60, Some(0.075), Some(16_384)),
    p("gpt-4-turbo", 10.0, 30.0, None, Some(4_096)),
    p("gpt-4", 30.0, 60.0, None, Some(8_192)),
    p("gpt-3.5-turbo", 0.50, 1.50, None, Some(4_096)),
    p("o1", 15.0, 60.0, Some(7.50), Some(100_000)),
    p("o1-mini", 1.10, 4.40, Some(0.55), Some(65_536)),
    p("o3", 2.0, 8.0, Some(0.50), Some(100_000)),
    p("o3-mini", 1.10, 4.40, Some(0.55), Some(100_000)),
    p("o4-mini", 1.10, 4.40, Some(0.275), Some(100_000)),
    p("text-embedding-3-small", 0.02, 0.0, None, None),
    p("text-embedding-3-large", 0.13, 0.0, None, None),
    p("text-embedding-ada-002", 0.10, 0.0, None, None),
    // Anthropic (cached = cache read)
    p("claude-opus-4-5", 5.0, 25.0, Some(0.50), Some(64_000)),
    p("claude-opus-4-1", 15.0, 75.0, Some(1.50), Some(32_000)),
    p("claude-opus-4-0", 15.0, 75.0, Some(1.50), Some(32_000)),
    p("claude-sonnet-4-5", 3.0, 15.0, Some(0.30), Some(64_000)),
    p("claude-sonnet-4-0", 3.0, 15.0, Some(0.30), Some(64_000)),
    p("claude-haiku-4-5", 1.0, 5.0, Some(0.10), Some(64_000)),
    p("claude-3-7-sonnet", 3.0, 15.0, Some(0.30), Some(64_000)),
    p("claude-3-5-sonnet", 3.0, 15.0, Some(0.30), Some(8_192)),
    p("claude-3-5-haiku", 0.80, 4.0, Some(0.08), Some(8_192)),
    p("claude-3-haiku", 0.25, 1.25, Some(0.03), Some(4_096)),
    // DeepSeek (cached = cache hit)
    p("deepseek-chat", 0.28, 0.42, Some(0.028), Some(8_192)),
    p("deepseek-reasoner", 0.28, 0.42, Some(0.028), Some(65_536)),
    // Zhipu GLM (international list prices in USD)
    p("glm-4.6", 0.60, 2.20, Some(0.11), Some(128_000)),
    p("glm-4.5", 0.60, 2.20, Some(0.11), Some(96_000)),
    p("glm-4.5-air", 0.20, 1.10, Some(0.03), Some(96_000)),
    p("glm-4.5-flash", 0.0, 0.0, None, Some(96_000)),
    p("glm-4-plus", 0.70, 0.70, None, Some(4_096)),
    p("glm-4-air", 0.07, 0.07, None, Some(4_096)),
    p("glm-4-flash", 0.0, 0.0, None, Some(4_096)),
    p("embedding-3", 0.07, 0.0, None, None),
];

#[cfg(test)]
mod tests {
    use super::DEFAULT_PRICES;

    #[test]
    fn defaults_are_sane_and_unique() {
        let mut names: Vec<&str> = DEFAULT_PRICES.iter().map(|p| p.model).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), DEFAULT_PRICES.len());
        for d in DEFAULT_PRICES {
            assert!(d.price().is_valid(), "{}", d.model);
            assert!(
                d.cached.is_none_or(|c| c <= d.input),
                "{}: cached above input",
                d.model
            );
            let embeds = d.model.contains("embedding");
            assert_eq!(d.max_output_tokens.is_none(), embeds, "{}", d.model);
        }
    }
}
