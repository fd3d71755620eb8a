//! LiteLLM's price list (`model_prices_and_context_window.json`, the list most gateways
//! read) as the gateway's prices: per-token costs become USD per million, cache reads and
//! 5-minute and 1-hour writes, `_above_<N>k_tokens` long-context tiers, `_flex` and
//! `_priority` prices as multipliers, web-search costs per query, `max_output_tokens`.
//!
//! Names: an entry is the price of the model named by its key when the key is a bare name
//! (`gpt-5`, `claude-sonnet-4-5`), or `openai/`, `anthropic/`, `deepseek/`, `zai/` or
//! `zhipuai/` followed by one (a bare entry of the same name wins). Keys of platforms that
//! resell models at their own prices (`azure/…`, `bedrock/…`, `vertex_ai/…`,
//! `anthropic.claude-…`, `openrouter/…`) are skipped: price those per provider by hand.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{Price, Tier, MAX_TIERS};

/// Provider prefixes whose names are the gateway's model names.
const OWN_PREFIXES: [&str; 5] = ["openai/", "anthropic/", "deepseek/", "zai/", "zhipuai/"];
/// Modes that are calls the gateway proxies.
const MODES: [&str; 4] = ["chat", "responses", "completion", "embedding"];

/// What an import makes of a list: prices by model name, and the entries skipped with why.
#[derive(Debug, Default)]
pub struct Imported {
    pub prices: BTreeMap<String, Price>,
    pub skipped: Vec<(String, String)>,
}

/// Reads a LiteLLM price list.
pub fn read(list: &Map<String, Value>) -> Imported {
    let mut out = Imported::default();
    let mut prefixed: Vec<(String, Price)> = Vec::new();
    for (key, entry) in list {
        if key == "sample_spec" {
            continue;
        }
        let name = match model_name(key) {
            Ok(name) => name,
            Err(why) => {
                out.skipped.push((key.clone(), why));
                continue;
            }
        };
        match price_of(entry, &name) {
            Ok(price) if key.contains('/') => prefixed.push((name, price)),
            Ok(price) => {
                out.prices.insert(name, price);
            }
            Err(why) => out.skipped.push((key.clone(), why)),
        }
    }
    for (name, price) in prefixed {
        out.prices.entry(name).or_insert(price);
    }
    out
}

/// The gateway's model name for a key, or why it has none.
fn model_name(key: &str) -> Result<String, String> {
    let name = OWN_PREFIXES
        .iter()
        .find_map(|p| key.strip_prefix(p))
        .unwrap_or(key);
    let platform = name.contains('/')
        || name.starts_with("anthropic.")
        || name.contains(".anthropic.")
        || name.starts_with("us.")
        || name.starts_with("eu.");
    if platform || name.is_empty() || name.len() > 200 {
        return Err(
            "a platform's own price (azure, bedrock, vertex, …): price it per provider".into(),
        );
    }
    Ok(name.to_string())
}

/// A per-token cost as USD per million, rounded to a nano-dollar per million (so that
/// `1.25e-06` reads as 1.25, not 1.2499999999999998).
fn per_million(entry: &Value, field: &str) -> Option<f64> {
    entry
        .get(field)
        .and_then(Value::as_f64)
        .map(|v| (v * 1e15).round() / 1e9)
}

fn price_of(entry: &Value, name: &str) -> Result<Price, String> {
    let mode = entry.get("mode").and_then(Value::as_str).unwrap_or("chat");
    if !MODES.contains(&mode) {
        return Err(format!("mode '{mode}' is not a call the gateway proxies"));
    }
    let input = per_million(entry, "input_cost_per_token").ok_or("no input_cost_per_token")?;
    let output = match per_million(entry, "output_cost_per_token") {
        Some(o) => o,
        None if mode == "embedding" => 0.0,
        None => return Err("no output_cost_per_token".into()),
    };
    let ratio = |suffix: &str| {
        let i = per_million(entry, &format!("input_cost_per_token_{suffix}"));
        let o = per_million(entry, &format!("output_cost_per_token_{suffix}"));
        // Never under-bill: the larger of the two ratios.
        let of = |v: Option<f64>, base: f64| {
            v.filter(|_| base > 0.0)
                .map(|v| (v / base * 1e6).round() / 1e6)
        };
        match (of(i, input), of(o, output)) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    };
    let searches = entry
        .get("search_context_cost_per_query")
        .and_then(Value::as_object)
        .and_then(|costs| costs.values().filter_map(Value::as_f64).reduce(f64::max));
    let mut price = Price {
        input_per_million: input,
        output_per_million: output,
        cached_input_per_million: per_million(entry, "cache_read_input_token_cost"),
        cache_write_per_million: per_million(entry, "cache_creation_input_token_cost"),
        cache_write_1h_per_million: per_million(entry, "cache_creation_input_token_cost_above_1hr"),
        max_output_tokens: entry
            .get("max_output_tokens")
            .and_then(Value::as_i64)
            .filter(|m| (1..=10_000_000).contains(m)),
        flex_multiplier: ratio("flex"),
        priority_multiplier: ratio("priority"),
        web_search_per_use: searches,
        audio_input_per_million: per_million(entry, "input_cost_per_audio_token"),
        audio_output_per_million: per_million(entry, "output_cost_per_audio_token"),
        ..Price::default()
    };
    let mut tiers: Vec<Tier> = Vec::new();
    if let Some(fields) = entry.as_object() {
        for key in fields.keys() {
            let Some(k) = key
                .strip_prefix("input_cost_per_token_above_")
                .and_then(|rest| rest.strip_suffix("k_tokens"))
                .and_then(|n| n.parse::<i64>().ok())
            else {
                continue;
            };
            let above = |field: &str| per_million(entry, &format!("{field}_above_{k}k_tokens"));
            tiers.push(Tier {
                above_input_tokens: k * 1000,
                input_per_million: above("input_cost_per_token").unwrap_or(input),
                output_per_million: above("output_cost_per_token").unwrap_or(output),
                cached_input_per_million: above("cache_read_input_token_cost"),
                cache_write_per_million: above("cache_creation_input_token_cost"),
                cache_write_1h_per_million: above("cache_creation_input_token_cost_above_1hr"),
            });
        }
    }
    tiers.truncate(MAX_TIERS);
    price.set_tiers(tiers);
    let price = price.with_family_defaults(name);
    if !price.is_valid() {
        return Err("a price out of range".into());
    }
    Ok(price)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_every_class_and_maps_names() {
        let list = json!({
            "sample_spec": {"input_cost_per_token": 0},
            "claude-sonnet-4-5": {"litellm_provider": "anthropic", "mode": "chat",
                "input_cost_per_token": 3e-6, "output_cost_per_token": 1.5e-5,
                "cache_read_input_token_cost": 3e-7, "cache_creation_input_token_cost": 3.75e-6,
                "cache_creation_input_token_cost_above_1hr": 6e-6,
                "input_cost_per_token_above_200k_tokens": 6e-6,
                "output_cost_per_token_above_200k_tokens": 2.25e-5,
                "search_context_cost_per_query": {"search_context_size_low": 0.01,
                    "search_context_size_medium": 0.01, "search_context_size_high": 0.01},
                "max_output_tokens": 64000},
            "gpt-5": {"litellm_provider": "openai", "mode": "chat",
                "input_cost_per_token": 1.25e-6, "output_cost_per_token": 1e-5,
                "input_cost_per_token_flex": 6.25e-7, "output_cost_per_token_flex": 5e-6,
                "input_cost_per_token_priority": 2.5e-6, "output_cost_per_token_priority": 2e-5},
            "deepseek/deepseek-chat": {"litellm_provider": "deepseek",
                "input_cost_per_token": 2.7e-7, "output_cost_per_token": 1.1e-6},
            "azure/gpt-5": {"input_cost_per_token": 9e-6, "output_cost_per_token": 9e-6},
            "anthropic.claude-3-haiku-20240307-v1:0": {"input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6},
            "dall-e-3": {"mode": "image_generation", "input_cost_per_token": 0, "output_cost_per_token": 0},
            "text-embedding-3-small": {"mode": "embedding", "input_cost_per_token": 2e-8},
            "half-priced": {"input_cost_per_token": 1e-6},
        });
        let imported = read(list.as_object().unwrap());
        let claude = imported.prices["claude-sonnet-4-5"];
        assert_eq!(claude.cache_write_1h_per_million, Some(6.0));
        assert_eq!(claude.web_search_per_use, Some(0.01));
        assert_eq!(claude.tier_list()[0].above_input_tokens, 200_000);
        assert!((claude.tier_list()[0].input_per_million - 6.0).abs() < 1e-9);
        let gpt5 = imported.prices["gpt-5"];
        assert_eq!(gpt5.flex_multiplier, Some(0.5));
        assert_eq!(gpt5.priority_multiplier, Some(2.0));
        assert!(imported.prices.contains_key("deepseek-chat"));
        assert!(imported.prices.contains_key("text-embedding-3-small"));
        let skipped: Vec<&str> = imported.skipped.iter().map(|(k, _)| k.as_str()).collect();
        for key in [
            "azure/gpt-5",
            "anthropic.claude-3-haiku-20240307-v1:0",
            "dall-e-3",
            "half-priced",
        ] {
            assert!(skipped.contains(&key), "{key}: {skipped:?}");
        }
        assert_eq!(imported.prices.len(), 4);
    }
}
