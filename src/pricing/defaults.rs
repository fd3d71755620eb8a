//! The default price list, seeded into `model_prices` for models that have no row yet: the
//! vendors' public list prices and limits (input, output, cache reads, Claude's 5-minute and
//! 1-hour cache writes and long-context tier, OpenAI's flex and priority prices, Claude's
//! web searches, each model's largest output), kept in LiteLLM's price-list format
//! (`defaults.json`) and read by the same code as `POST /admin/model-prices/import`.
//! Admins override any of them; an edited row is never replaced.

use std::sync::OnceLock;

use super::{litellm, Price};

/// The default prices by model name.
pub fn default_prices() -> &'static [(String, Price)] {
    static PRICES: OnceLock<Vec<(String, Price)>> = OnceLock::new();
    PRICES.get_or_init(|| {
        let list: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(include_str!("defaults.json"))
                .expect("defaults.json is a LiteLLM price list");
        litellm::read(&list).prices.into_iter().collect()
    })
}

#[cfg(test)]
mod tests {
    use super::default_prices;

    #[test]
    fn defaults_are_sane_and_complete() {
        let list: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(include_str!("defaults.json")).unwrap();
        let read = super::litellm::read(&list);
        assert!(read.skipped.is_empty(), "{:?}", read.skipped);
        assert_eq!(default_prices().len(), list.len());
        for (model, price) in default_prices() {
            assert!(price.is_valid(), "{model}");
            assert!(
                price
                    .cached_input_per_million
                    .is_none_or(|c| c <= price.input_per_million),
                "{model}: cached above input"
            );
            let embeds = model.contains("embedding");
            assert_eq!(price.max_output_tokens.is_none(), embeds, "{model}");
        }
        let get = |m: &str| default_prices().iter().find(|(n, _)| n == m).unwrap().1;
        assert_eq!(get("gpt-4o-mini").input_per_million, 0.15);
        assert_eq!(
            get("claude-sonnet-4-5").cache_write_1h_per_million,
            Some(6.0)
        );
        assert_eq!(get("claude-sonnet-4-5").cache_write_per_million, Some(3.75));
        assert_eq!(get("gpt-5").flex_multiplier, Some(0.5));
    }
}
