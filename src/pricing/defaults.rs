//! The default price list (USD per million tokens: input, output, cached input), seeded into
//! `model_prices` for models that have no row yet. Vendors' public list prices; admins
//! override any of them with `PUT /admin/model-prices`, and an edited row is never replaced.

pub const DEFAULT_PRICES: &[(&str, f64, f64, Option<f64>)] = &[
    // OpenAI
    ("gpt-5", 1.25, 10.0, Some(0.125)),
    ("gpt-5-mini", 0.25, 2.0, Some(0.025)),
    ("gpt-5-nano", 0.05, 0.40, Some(0.005)),
    ("gpt-4.1", 2.0, 8.0, Some(0.50)),
    ("gpt-4.1-mini", 0.40, 1.60, Some(0.10)),
    ("gpt-4.1-nano", 0.10, 0.40, Some(0.025)),
    ("gpt-4o", 2.50, 10.0, Some(1.25)),
    ("gpt-4o-mini", 0.15, 0.60, Some(0.075)),
    ("gpt-4-turbo", 10.0, 30.0, None),
    ("gpt-4", 30.0, 60.0, None),
    ("gpt-3.5-turbo", 0.50, 1.50, None),
    ("o1", 15.0, 60.0, Some(7.50)),
    ("o1-mini", 1.10, 4.40, Some(0.55)),
    ("o3", 2.0, 8.0, Some(0.50)),
    ("o3-mini", 1.10, 4.40, Some(0.55)),
    ("o4-mini", 1.10, 4.40, Some(0.275)),
    ("text-embedding-3-small", 0.02, 0.0, None),
    ("text-embedding-3-large", 0.13, 0.0, None),
    ("text-embedding-ada-002", 0.10, 0.0, None),
    // Anthropic (cached = cache read)
    ("claude-opus-4-5", 5.0, 25.0, Some(0.50)),
    ("claude-opus-4-1", 15.0, 75.0, Some(1.50)),
    ("claude-opus-4-0", 15.0, 75.0, Some(1.50)),
    ("claude-sonnet-4-5", 3.0, 15.0, Some(0.30)),
    ("claude-sonnet-4-0", 3.0, 15.0, Some(0.30)),
    ("claude-haiku-4-5", 1.0, 5.0, Some(0.10)),
    ("claude-3-7-sonnet-latest", 3.0, 15.0, Some(0.30)),
    ("claude-3-5-sonnet-latest", 3.0, 15.0, Some(0.30)),
    ("claude-3-5-haiku-latest", 0.80, 4.0, Some(0.08)),
    ("claude-3-haiku-20240307", 0.25, 1.25, Some(0.03)),
    // DeepSeek (cached = cache hit)
    ("deepseek-chat", 0.28, 0.42, Some(0.028)),
    ("deepseek-reasoner", 0.28, 0.42, Some(0.028)),
    // Zhipu GLM (international list prices in USD)
    ("glm-4.6", 0.60, 2.20, Some(0.11)),
    ("glm-4.5", 0.60, 2.20, Some(0.11)),
    ("glm-4.5-air", 0.20, 1.10, Some(0.03)),
    ("glm-4.5-flash", 0.0, 0.0, None),
    ("glm-4-plus", 0.70, 0.70, None),
    ("glm-4-air", 0.07, 0.07, None),
    ("glm-4-flash", 0.0, 0.0, None),
    ("embedding-3", 0.07, 0.0, None),
];

#[cfg(test)]
mod tests {
    use super::DEFAULT_PRICES;

    #[test]
    fn defaults_are_sane_and_unique() {
        let mut names: Vec<&str> = DEFAULT_PRICES.iter().map(|p| p.0).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), DEFAULT_PRICES.len());
        for (name, i, o, c) in DEFAULT_PRICES {
            assert!(*i >= 0.0 && *o >= 0.0, "{name}");
            assert!(c.is_none_or(|c| c <= *i), "{name}: cached above input");
        }
    }
}
