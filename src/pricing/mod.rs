//! Model prices and the cost of a call (pure logic; the `UsageLedger` owns the book).

pub mod defaults;

use std::collections::HashMap;

use crate::upstream::Usage;

/// USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input_per_million: f64,
    pub output_per_million: f64,
    /// Price of prompt tokens served from the upstream's cache; `None` bills them as input.
    pub cached_input_per_million: Option<f64>,
}

impl Price {
    /// Cost in nano-dollars (1e-9 USD). Cached prompt tokens are billed at the cached price.
    pub fn cost_nano(&self, usage: &Usage) -> i64 {
        let cached = usage.cached_tokens.clamp(0, usage.prompt_tokens.max(0));
        let fresh = usage.prompt_tokens.max(0) - cached;
        let cached_price = self
            .cached_input_per_million
            .unwrap_or(self.input_per_million);
        // price per million tokens in USD = price * 1000 nano-dollars per token
        let nano = fresh as f64 * self.input_per_million * 1000.0
            + cached as f64 * cached_price * 1000.0
            + usage.completion_tokens.max(0) as f64 * self.output_per_million * 1000.0;
        nano.round() as i64
    }

    pub fn is_valid(&self) -> bool {
        let ok = |v: f64| v.is_finite() && (0.0..=1_000_000.0).contains(&v);
        ok(self.input_per_million)
            && ok(self.output_per_million)
            && self.cached_input_per_million.is_none_or(ok)
    }
}

/// Prices by (provider, model); provider `""` applies to every provider.
#[derive(Debug, Default, Clone)]
pub struct PriceBook {
    prices: HashMap<(String, String), Price>,
}

impl PriceBook {
    pub fn new(rows: impl IntoIterator<Item = (String, String, Price)>) -> PriceBook {
        PriceBook {
            prices: rows
                .into_iter()
                .map(|(p, m, price)| ((p, m), price))
                .collect(),
        }
    }

    pub fn insert(&mut self, provider: &str, model: &str, price: Price) {
        self.prices
            .insert((provider.to_string(), model.to_string()), price);
    }

    fn exact(&self, provider: &str, model: &str) -> Option<Price> {
        self.prices
            .get(&(provider.to_string(), model.to_string()))
            .or_else(|| self.prices.get(&(String::new(), model.to_string())))
            .copied()
    }

    /// The price of `model` served by `provider`: the provider's own price, else the global
    /// one; a dated or suffixed name (`gpt-4o-mini-2024-07-18`) falls back to the longest
    /// priced name it extends (`gpt-4o-mini`).
    pub fn lookup(&self, provider: &str, model: &str) -> Option<Price> {
        if let Some(p) = self.exact(provider, model) {
            return Some(p);
        }
        let mut name = model;
        while let Some(cut) = name.rfind(['-', ':', '@']) {
            name = &name[..cut];
            if let Some(p) = self.exact(provider, name) {
                return Some(p);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(i: f64, o: f64, c: Option<f64>) -> Price {
        Price {
            input_per_million: i,
            output_per_million: o,
            cached_input_per_million: c,
        }
    }

    #[test]
    fn cost_in_nano_dollars() {
        let p = price(2.5, 10.0, Some(1.25));
        let usage = Usage {
            prompt_tokens: 1000,
            completion_tokens: 500,
            total_tokens: 1500,
            cached_tokens: 200,
            reasoning_tokens: 0,
        };
        // 800 * 2.5e-6 + 200 * 1.25e-6 + 500 * 10e-6 USD = 0.002 + 0.00025 + 0.005
        assert_eq!(p.cost_nano(&usage), 7_250_000);
        let no_cache_price = price(2.5, 10.0, None);
        assert_eq!(no_cache_price.cost_nano(&usage), 7_500_000);
        assert_eq!(p.cost_nano(&Usage::default()), 0);
    }

    #[test]
    fn lookup_order() {
        let mut book = PriceBook::default();
        book.insert("", "gpt-4o-mini", price(0.15, 0.6, None));
        book.insert("cheap", "gpt-4o-mini", price(0.1, 0.5, None));
        assert_eq!(
            book.lookup("cheap", "gpt-4o-mini")
                .unwrap()
                .input_per_million,
            0.1
        );
        assert_eq!(
            book.lookup("openai", "gpt-4o-mini")
                .unwrap()
                .input_per_million,
            0.15
        );
        assert_eq!(
            book.lookup("openai", "gpt-4o-mini-2024-07-18")
                .unwrap()
                .input_per_million,
            0.15
        );
        assert!(book.lookup("openai", "gpt-5").is_none());
        assert!(book.lookup("openai", "gpt").is_none());
    }

    #[test]
    fn validity() {
        assert!(price(1.0, 2.0, None).is_valid());
        assert!(!price(-1.0, 2.0, None).is_valid());
        assert!(!price(1.0, f64::NAN, None).is_valid());
        assert!(!price(1.0, 1.0, Some(-0.1)).is_valid());
    }
}
