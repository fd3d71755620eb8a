//! Model prices and the cost of a call (pure logic; the `UsageLedger` owns the book).

pub mod defaults;

use std::collections::HashMap;

use crate::core::money::Money;
use crate::core::usage::Usage;

/// USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input_per_million: f64,
    pub output_per_million: f64,
    /// Price of prompt tokens served from the upstream's cache; `None` bills them as input.
    pub cached_input_per_million: Option<f64>,
    /// The model's largest completion; what a call without its own cap may generate.
    pub max_output_tokens: Option<i64>,
    /// Price of prompt tokens written to the upstream's cache; `None` bills them as input.
    pub cache_write_per_million: Option<f64>,
}

impl Price {
    /// The cost of a call's usage. Prompt tokens read from the upstream's cache are billed
    /// at the cached price, tokens written to it at the cache-write price.
    pub fn cost(&self, usage: &Usage) -> Money {
        let prompt = usage.prompt_tokens.max(0);
        let cached = usage.cached_tokens.clamp(0, prompt);
        let written = usage.cache_write_tokens.clamp(0, prompt - cached);
        let fresh = prompt - cached - written;
        let cached_price = self
            .cached_input_per_million
            .unwrap_or(self.input_per_million);
        let write_price = self
            .cache_write_per_million
            .unwrap_or(self.input_per_million);
        let nanos = Money::per_million(fresh, self.input_per_million)
            + Money::per_million(cached, cached_price)
            + Money::per_million(written, write_price)
            + Money::per_million(usage.completion_tokens, self.output_per_million);
        Money::from_fraction(nanos, false)
    }

    pub fn is_valid(&self) -> bool {
        let ok = |v: f64| v.is_finite() && (0.0..=1_000_000.0).contains(&v);
        ok(self.input_per_million)
            && ok(self.output_per_million)
            && self.cached_input_per_million.is_none_or(ok)
            && self.cache_write_per_million.is_none_or(ok)
            && self
                .max_output_tokens
                .is_none_or(|m| (1..=10_000_000).contains(&m))
    }
}

/// Prices by provider, then model; provider `""` applies to every provider. Nested maps so
/// that a lookup borrows the names instead of allocating.
#[derive(Debug, Default, Clone)]
pub struct PriceBook {
    prices: HashMap<String, HashMap<String, Price>>,
}

impl PriceBook {
    pub fn new(rows: impl IntoIterator<Item = (String, String, Price)>) -> PriceBook {
        let mut book = PriceBook::default();
        for (provider, model, price) in rows {
            book.prices
                .entry(provider)
                .or_default()
                .insert(model, price);
        }
        book
    }

    pub fn insert(&mut self, provider: &str, model: &str, price: Price) {
        self.prices
            .entry(provider.to_string())
            .or_default()
            .insert(model.to_string(), price);
    }

    fn exact(&self, provider: &str, model: &str) -> Option<Price> {
        let of = |p: &str| self.prices.get(p).and_then(|m| m.get(model)).copied();
        of(provider).or_else(|| of(""))
    }

    /// The price of `model` served by `provider`: the provider's own price, else the global
    /// one; a name with a date or version suffix (`gpt-4o-mini-2024-07-18`, `gpt-4-0613`,
    /// `…@20240620`, `…-latest`, `…-v2:0`) falls back to the name without it. A different
    /// variant (`gpt-4o-mini-search`, `o1-pro`) does not inherit its sibling's price.
    pub fn lookup(&self, provider: &str, model: &str) -> Option<Price> {
        let mut name = model;
        // Each step is linear in the name and at most three suffixes are stripped.
        for _ in 0..4 {
            if let Some(p) = self.exact(provider, name) {
                return Some(p);
            }
            name = strip_version(name)?;
        }
        None
    }
}

/// The name without its last date or version suffix, if it has one.
pub fn strip_version(name: &str) -> Option<&str> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some((base, tail)) = name.rsplit_once('@') {
        let date_like = !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit() || b == b'-');
        if date_like || tail == "latest" {
            return Some(base).filter(|b| !b.is_empty());
        }
    }
    if let Some((base, tail)) = name.rsplit_once(':') {
        if digits(tail) || tail == "latest" {
            return Some(base).filter(|b| !b.is_empty());
        }
    }
    if let Some(base) = name.strip_suffix("-latest") {
        return Some(base).filter(|b| !b.is_empty());
    }
    // -YYYY-MM-DD (checked on bytes: the name may hold any UTF-8 before it)
    let cut = name.len().saturating_sub(11);
    if name.len() > 11 && name.is_char_boundary(cut) {
        let t = &name.as_bytes()[cut..];
        let all_digits = |b: &[u8]| b.iter().all(u8::is_ascii_digit);
        if t[0] == b'-'
            && t[5] == b'-'
            && t[8] == b'-'
            && all_digits(&t[1..5])
            && all_digits(&t[6..8])
            && all_digits(&t[9..])
        {
            return Some(&name[..cut]);
        }
    }
    let (base, tail) = name.rsplit_once('-')?;
    if base.is_empty() {
        return None;
    }
    // -YYYYMMDD, -MMDD (or -YYMM)
    if digits(tail) && (tail.len() == 8 || tail.len() == 4) {
        return Some(base);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing: a multi-byte name used to be sliced inside a character.
    #[test]
    fn version_stripping_never_splits_a_character() {
        for name in [
            "ࠀࠀࠀࠀ",
            "模型-2024-07-18",
            "ࠀࠀࠀࠀ-07-18x",
            "é-2024-07-1é",
            "a\u{10000}bcdefghij",
        ] {
            let _ = strip_version(name);
        }
        assert_eq!(strip_version("模型-2024-07-18"), Some("模型"));
    }

    fn price(i: f64, o: f64, c: Option<f64>) -> Price {
        Price {
            input_per_million: i,
            output_per_million: o,
            cached_input_per_million: c,
            max_output_tokens: None,
            cache_write_per_million: None,
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
            cache_write_tokens: 0,
            reasoning_tokens: 0,
        };
        // 800 * 2.5e-6 + 200 * 1.25e-6 + 500 * 10e-6 USD = 0.002 + 0.00025 + 0.005
        assert_eq!(p.cost(&usage).nanos(), 7_250_000);
        // 100 of the 800 fresh tokens were written to the cache at 3.125 USD per million.
        let writes = Price {
            cache_write_per_million: Some(3.125),
            ..p
        };
        let written = Usage {
            cache_write_tokens: 100,
            ..usage
        };
        assert_eq!(writes.cost(&written).nanos(), 7_250_000 + 100 * 625);
        let no_cache_price = price(2.5, 10.0, None);
        assert_eq!(no_cache_price.cost(&usage).nanos(), 7_500_000);
        assert_eq!(p.cost(&Usage::default()), Money::ZERO);
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
    fn only_dates_and_versions_fall_back() {
        let mut book = PriceBook::default();
        book.insert("", "gpt-4o-mini", price(0.15, 0.6, None));
        book.insert("", "gpt-4", price(30.0, 60.0, None));
        book.insert("", "o1", price(15.0, 60.0, None));
        book.insert("", "claude-3-5-sonnet", price(3.0, 15.0, None));
        book.insert("", "llama3", price(0.1, 0.1, None));
        let found = |m: &str| book.lookup("p", m).map(|p| p.input_per_million);
        for (name, want) in [
            ("gpt-4o-mini-2024-07-18", Some(0.15)),
            ("gpt-4o-mini@2024-07-18", Some(0.15)),
            ("gpt-4o-mini-latest", Some(0.15)),
            ("gpt-4-0613", Some(30.0)),
            ("claude-3-5-sonnet-20240620", Some(3.0)),
            ("claude-3-5-sonnet@20240620", Some(3.0)),
            ("claude-3-5-sonnet-20241022:0", Some(3.0)),
            ("llama3:latest", Some(0.1)),
            ("gpt-4o-mini-search", None),
            ("gpt-4o-mini-search-preview-2025-03-11", None),
            ("o1-pro", None),
            ("o1-pro-2025-03-19", None),
            ("gpt-4-turbo", None),
            ("llama3:70b", None),
            ("-0613", None),
            ("@2024", None),
        ] {
            assert_eq!(found(name), want, "{name}");
        }
    }

    #[test]
    fn a_long_name_strips_at_most_a_few_suffixes() {
        let mut book = PriceBook::default();
        book.insert("", "a", price(30.0, 60.0, None));
        // Formerly every '-' was a cut point (quadratic); now only version suffixes are.
        assert!(book.lookup("p", &"a-1234".repeat(1000)).is_none());
        assert!(
            book.lookup("p", "a-1234-1234-1234-1234").is_none(),
            "at most 3 strips"
        );
        assert!(book.lookup("p", "a-1234-1234-1234").is_some());
    }

    #[test]
    fn validity() {
        assert!(price(1.0, 2.0, None).is_valid());
        assert!(!price(-1.0, 2.0, None).is_valid());
        assert!(!price(1.0, f64::NAN, None).is_valid());
        assert!(!price(1.0, 1.0, Some(-0.1)).is_valid());
    }
}
