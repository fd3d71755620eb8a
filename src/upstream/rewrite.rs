//! The one body rewriter of pass-through legs. The client's bytes go on untouched unless
//! something must change — the model name the provider knows, the budget's completion cap
//! (in the field the upstream reads), a usage report the gateway needs to bill a stream, a
//! vendor's sampling bounds — and are then parsed once, edited and written once.

use bytes::Bytes;
use serde_json::{Map, Value};

use super::quirks::Quirks;
use super::{ClientRequest, Target};
use crate::core::endpoint::Dialect;
use crate::dialect::chat::CapField;
use crate::dialect::messages::upstream::MIN_THINKING_BUDGET;
use crate::error::ApiError;

/// What must change in a pass-through body.
#[derive(Debug, Default, PartialEq)]
struct Edits {
    /// The completion cap and the fields it goes into.
    cap: Option<(i64, CapFields)>,
    /// Ask a Chat stream for its usage chunk (`stream_options.include_usage`).
    ask_usage: bool,
    /// Bring sampling values within the vendor's bounds.
    fit_sampling: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CapFields {
    /// Chat: `max_tokens` alone (DeepSeek, Zhipu; `max_completion_tokens` removed).
    MaxTokensOnly,
    /// Chat on OpenAI: the fields the client sent, else `max_completion_tokens`.
    AsSent { max_tokens: bool, completion: bool },
    /// Messages: `max_tokens`, with a thinking budget kept below it.
    Messages,
    /// Responses: `max_output_tokens`.
    MaxOutputTokens,
}

/// The body an upstream of `dialect` (the client's own) gets on this attempt.
pub fn body(dialect: Dialect, target: &Target<'_>, req: &ClientRequest) -> Result<Bytes, ApiError> {
    let edits = edits(dialect, target.quirks, target.completion_cap, req);
    if target.model == req.model && edits == Edits::default() {
        return Ok(req.raw.clone());
    }
    let mut map: Map<String, Value> = serde_json::from_slice(&req.raw)
        .map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?;
    map.insert("model".into(), Value::String(target.model.to_string()));
    if edits.fit_sampling {
        target.quirks.fit_sampling(&mut map);
    }
    if edits.ask_usage {
        let options = map
            .entry("stream_options")
            .or_insert_with(|| Value::Object(Map::new()));
        if !options.is_object() {
            *options = Value::Object(Map::new());
        }
        if let Value::Object(options) = options {
            options.insert("include_usage".into(), Value::Bool(true));
        }
    }
    if let Some((cap, fields)) = edits.cap {
        write_cap(&mut map, cap, fields);
    }
    serde_json::to_vec(&map)
        .map(Bytes::from)
        .map_err(|e| ApiError::internal("cannot encode request", e))
}

/// The edits a body of `dialect` needs for an upstream with `quirks` and the budget's
/// `cap` (written unless the client's own field already says it where the upstream reads).
fn edits(dialect: Dialect, quirks: &Quirks, cap: Option<i64>, req: &ClientRequest) -> Edits {
    let own_cap = |cap: i64| req.client_cap == Some(cap);
    match dialect {
        Dialect::Chat => {
            let fields = if quirks.cap_field == CapField::MaxTokens {
                CapFields::MaxTokensOnly
            } else {
                CapFields::AsSent {
                    max_tokens: req.sent_max_tokens,
                    completion: req.sent_max_completion_tokens,
                }
            };
            // OpenAI honours either field; the others read `max_tokens` only.
            let honoured = |cap| {
                own_cap(cap)
                    && (fields != CapFields::MaxTokensOnly
                        || (req.sent_max_tokens && !req.sent_max_completion_tokens))
            };
            Edits {
                cap: cap.filter(|c| !honoured(*c)).map(|c| (c, fields)),
                ask_usage: req.stream && !req.wants_usage_chunk && quirks.ask_stream_usage,
                fit_sampling: quirks.adjusts_sampling(&req.raw),
            }
        }
        Dialect::Messages => Edits {
            cap: cap
                .filter(|c| !own_cap(*c))
                .map(|c| (c, CapFields::Messages)),
            ..Edits::default()
        },
        Dialect::Responses => Edits {
            cap: cap
                .filter(|c| !own_cap(*c))
                .map(|c| (c, CapFields::MaxOutputTokens)),
            ..Edits::default()
        },
    }
}

fn write_cap(map: &mut Map<String, Value>, cap: i64, fields: CapFields) {
    match fields {
        CapFields::MaxTokensOnly => {
            map.remove("max_completion_tokens");
            map.insert("max_tokens".into(), Value::from(cap));
        }
        CapFields::AsSent {
            max_tokens,
            completion,
        } => {
            if max_tokens {
                map.insert("max_tokens".into(), Value::from(cap));
            }
            if completion || !max_tokens {
                map.insert("max_completion_tokens".into(), Value::from(cap));
            }
        }
        CapFields::Messages => {
            map.insert("max_tokens".into(), Value::from(cap));
            fit_thinking(map, cap);
        }
        CapFields::MaxOutputTokens => {
            map.insert("max_output_tokens".into(), Value::from(cap));
        }
    }
}

/// Keeps `thinking.budget_tokens` below a lowered `max_tokens` (Anthropic refuses a budget
/// at or above it): lowered to `cap - 1`, or thinking dropped when that leaves less than
/// the smallest budget Anthropic accepts.
fn fit_thinking(map: &mut Map<String, Value>, cap: i64) {
    let budget = map
        .get("thinking")
        .and_then(|t| t.get("budget_tokens"))
        .and_then(Value::as_i64);
    match budget {
        Some(b) if b >= cap && cap > MIN_THINKING_BUDGET => {
            map["thinking"]["budget_tokens"] = (cap - 1).into();
        }
        Some(b) if b >= cap => {
            map.remove("thinking");
        }
        _ => {}
    }
}

#[cfg(test)]
#[path = "rewrite_tests.rs"]
mod tests;
