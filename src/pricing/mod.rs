//! Model prices and the cost of a call (pure logic; the `UsageLedger` owns the book).

pub mod defaults;
pub mod litellm;

use std::collections::HashMap;

use crate::core::money::Money;
use crate::core::usage::{ServiceTier, Usage};

/// Most long-context tiers one price holds.
pub const MAX_TIERS: usize = 4;

/// USD per million tokens (per use for server tools).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Price {
    pub input_per_million: f64,
    pub output_per_million: f64,
    /// Price of prompt tokens served from the upstream's cache; `None` bills them as input.
    pub cached_input_per_million: Option<f64>,
    /// The model's largest completion; what a call without its own cap may generate.
    pub max_output_tokens: Option<i64>,
    /// Price of prompt tokens written to the upstream's cache for 5 minutes; `None` bills
    /// them as input.
    pub cache_write_per_million: Option<f64>,
    /// Price of prompt tokens written for an hour; `None` bills them as 5-minute writes.
    pub cache_write_1h_per_million: Option<f64>,
    /// Long-context prices, lowest threshold first: the whole call is billed at the last
    /// tier whose `above_input_tokens` its input passes.
    pub tiers: [Option<Tier>; MAX_TIERS],
    /// Multipliers for answers served at the flex and priority tiers (`None`: that tier
    /// has no price).
    pub flex_multiplier: Option<f64>,
    pub priority_multiplier: Option<f64>,
    /// USD per web search the provider runs.
    pub web_search_per_use: Option<f64>,
    /// Prices of audio tokens in the prompt and the completion; `None` bills them as text.
    pub audio_input_per_million: Option<f64>,
    pub audio_output_per_million: Option<f64>,
}

/// A long-context tier: the prices of a call whose input passes `above_input_tokens`.
#[derive(
    Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub above_input_tokens: i64,
    pub input_per_million: f64,
    pub output_per_million: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input_per_million: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_per_million: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_1h_per_million: Option<f64>,
}

impl Price {
    /// The tiers as a list (lowest threshold first).
    pub fn tier_list(&self) -> Vec<Tier> {
        let mut tiers: Vec<Tier> = self.tiers.iter().flatten().copied().collect();
        tiers.sort_by_key(|t| t.above_input_tokens);
        tiers
    }

    /// Sets the tiers from a list; `None` when there are more than `MAX_TIERS`.
    pub fn set_tiers(&mut self, mut list: Vec<Tier>) -> Option<()> {
        if list.len() > MAX_TIERS {
            return None;
        }
        list.sort_by_key(|t| t.above_input_tokens);
        self.tiers = [None; MAX_TIERS];
        for (slot, tier) in self.tiers.iter_mut().zip(list) {
            *slot = Some(tier);
        }
        Some(())
    }
}

/// The per-token rates that apply to one call (its tier chosen), USD per million.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    pub input: f64,
    pub output: f64,
    pub cached: f64,
    pub write_5m: f64,
    pub write_1h: f64,
}

/// Which cache writes a request can cause (its `cache_control` markers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum CacheAsk {
    #[default]
    None,
    FiveMinutes,
    OneHour,
}

impl Price {
    /// The rates for a call with `input_tokens` of input: the base prices, or the last
    /// long-context tier the input passes.
    pub fn rates(&self, input_tokens: i64) -> Rates {
        let tier = self
            .tiers
            .iter()
            .flatten()
            .filter(|t| input_tokens > t.above_input_tokens)
            .max_by_key(|t| t.above_input_tokens);
        let (input, output, cached, write, write_1h) = match tier {
            Some(t) => (
                t.input_per_million,
                t.output_per_million,
                t.cached_input_per_million.or(self.cached_input_per_million),
                t.cache_write_per_million.or(self.cache_write_per_million),
                t.cache_write_1h_per_million
                    .or(self.cache_write_1h_per_million),
            ),
            None => (
                self.input_per_million,
                self.output_per_million,
                self.cached_input_per_million,
                self.cache_write_per_million,
                self.cache_write_1h_per_million,
            ),
        };
        let write_5m = write.unwrap_or(input);
        Rates {
            input,
            output,
            cached: cached.unwrap_or(input),
            write_5m,
            write_1h: write_1h.unwrap_or(write_5m),
        }
    }

    /// The multiplier of a service tier (standard: 1).
    pub fn tier_multiplier(&self, tier: ServiceTier) -> f64 {
        match tier {
            ServiceTier::Standard => 1.0,
            ServiceTier::Flex => self.flex_multiplier.unwrap_or(1.0),
            ServiceTier::Priority => self.priority_multiplier.unwrap_or(1.0),
        }
    }

    /// The cost of a call's usage: fresh input, cache reads, 5-minute and 1-hour cache
    /// writes and output at the rates of the call's long-context tier, times the service
    /// tier's multiplier, plus each web search at its per-use price. Reasoning tokens are
    /// part of the output (never counted twice).
    pub fn cost(&self, usage: &Usage) -> Money {
        let prompt = usage.prompt_tokens.max(0);
        let cached = usage.cached_tokens.clamp(0, prompt);
        let written = usage.cache_write_tokens.clamp(0, prompt - cached);
        let written_1h = usage.cache_write_1h_tokens.clamp(0, written);
        let fresh = prompt - cached - written;
        let r = self.rates(prompt);
        // Audio is part of the fresh input and of the output, at its own price.
        let audio_in = usage.audio_input_tokens.clamp(0, fresh);
        let completion = usage.completion_tokens.max(0);
        let audio_out = usage.audio_output_tokens.clamp(0, completion);
        let tokens = Money::per_million(fresh - audio_in, r.input)
            + Money::per_million(audio_in, self.audio_input_per_million.unwrap_or(r.input))
            + Money::per_million(cached, r.cached)
            + Money::per_million(written - written_1h, r.write_5m)
            + Money::per_million(written_1h, r.write_1h)
            + Money::per_million(completion - audio_out, r.output)
            + Money::per_million(audio_out, self.audio_output_per_million.unwrap_or(r.output));
        let uses =
            usage.web_search_requests.max(0) as f64 * self.web_search_per_use.unwrap_or(0.0) * 1e9;
        Money::from_fraction(
            tokens * self.tier_multiplier(usage.service_tier) + uses,
            false,
        )
    }

    /// The dearest price per input and per output token a call can reach, in nano-USD:
    /// its long-context tier by the prompt's bound, a cache write where the request asks
    /// for one (a 1-hour one at the 1-hour price), a priority tier where it asks for one.
    pub fn dearest_nano(
        &self,
        prompt_bound: i64,
        cache: CacheAsk,
        tier: ServiceTier,
    ) -> (f64, f64) {
        let r = self.rates(prompt_bound);
        let input = match cache {
            CacheAsk::None => r.input,
            CacheAsk::FiveMinutes => r.input.max(r.write_5m),
            CacheAsk::OneHour => r.input.max(r.write_5m).max(r.write_1h),
        }
        .max(self.audio_input_per_million.unwrap_or(0.0));
        let output = r.output.max(self.audio_output_per_million.unwrap_or(0.0));
        let m = self.tier_multiplier(tier).max(1.0);
        (input * m * 1000.0, output * m * 1000.0)
    }

    pub fn is_valid(&self) -> bool {
        let ok = |v: f64| v.is_finite() && (0.0..=1_000_000.0).contains(&v);
        let multiplier = |v: f64| v.is_finite() && (0.0..=100.0).contains(&v);
        ok(self.input_per_million)
            && ok(self.output_per_million)
            && self.cached_input_per_million.is_none_or(ok)
            && self.cache_write_per_million.is_none_or(ok)
            && self.cache_write_1h_per_million.is_none_or(ok)
            && self.web_search_per_use.is_none_or(ok)
            && self.audio_input_per_million.is_none_or(ok)
            && self.audio_output_per_million.is_none_or(ok)
            && self.flex_multiplier.is_none_or(multiplier)
            && self.priority_multiplier.is_none_or(multiplier)
            && self.tiers.iter().flatten().all(|t| {
                t.above_input_tokens >= 0
                    && ok(t.input_per_million)
                    && ok(t.output_per_million)
                    && t.cached_input_per_million.is_none_or(ok)
                    && t.cache_write_per_million.is_none_or(ok)
                    && t.cache_write_1h_per_million.is_none_or(ok)
            })
            && self
                .max_output_tokens
                .is_none_or(|m| (1..=10_000_000).contains(&m))
    }

    /// Fills what a model's family bills but the row does not say: Claude's 1-hour cache
    /// writes at 2 × input (Anthropic's list), when only the 5-minute price is given.
    pub fn with_family_defaults(mut self, model: &str) -> Price {
        if model.contains("claude") && self.cache_write_1h_per_million.is_none() {
            self.cache_write_1h_per_million = Some(self.input_per_million * 2.0);
        }
        self
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

    /// The model names priced for `provider` or for every provider.
    pub fn names_for<'a>(&'a self, provider: &'a str) -> impl Iterator<Item = &'a String> + 'a {
        [provider, ""]
            .into_iter()
            .filter_map(|p| self.prices.get(p))
            .flat_map(|models| models.keys())
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
mod tests;
