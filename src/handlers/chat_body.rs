//! OpenAI request bodies (chat completions, embeddings): checked, and the few fields that
//! routing and budgets need read; everything else passes through.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::core::endpoint::Endpoint;
use crate::error::ApiError;
use crate::upstream::ClientRequest;

/// The few fields of a client body the gateway reads; everything else passes through.
#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(default)]
    model: Option<Value>,
    #[serde(default)]
    stream: Option<Value>,
    #[serde(default)]
    stream_options: Option<Value>,
    #[serde(default)]
    max_tokens: Option<Value>,
    #[serde(default)]
    max_completion_tokens: Option<Value>,
    #[serde(default)]
    n: Option<Value>,
    #[serde(default)]
    service_tier: Option<Value>,
    #[serde(default)]
    user: Option<Value>,
    #[serde(default)]
    safety_identifier: Option<Value>,
    #[serde(default, borrow)]
    messages: Option<&'a RawValue>,
    #[serde(default, borrow)]
    input: Option<&'a RawValue>,
}

/// Longest model name accepted (contract: 400 beyond).
pub const MAX_MODEL_NAME_BYTES: usize = 256;
/// Largest `max_tokens` / `max_completion_tokens` accepted.
pub const MAX_COMPLETION_TOKENS: i64 = 10_000_000;
/// Largest `n` accepted (OpenAI's own limit).
pub const MAX_CHOICES: i64 = 128;

pub fn parse_request(endpoint: Endpoint, raw: bytes::Bytes) -> Result<ClientRequest, ApiError> {
    let first = raw.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if first != Some(b'{') {
        return Err(ApiError::invalid("request body must be a JSON object"));
    }
    let peek: Peek = serde_json::from_slice(&raw)
        .map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?;
    let model = match peek.model {
        None | Some(Value::Null) => {
            return Err(ApiError::invalid_param("model", "'model' is required"))
        }
        Some(Value::String(s)) if s.len() > MAX_MODEL_NAME_BYTES => {
            return Err(ApiError::invalid_param(
                "model",
                format!("'model' is longer than {MAX_MODEL_NAME_BYTES} bytes"),
            ))
        }
        Some(Value::String(s)) if !s.trim().is_empty() => s,
        Some(_) => {
            return Err(ApiError::invalid_param(
                "model",
                "'model' must be a non-empty string",
            ))
        }
    };
    let stream = optional_bool(peek.stream, "stream", "'stream' must be a boolean")?;
    let wants_usage_chunk = match &peek.stream_options {
        None | Some(Value::Null) => false,
        Some(Value::Object(o)) => match o.get("include_usage") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(ApiError::invalid_param(
                    "stream_options",
                    "'stream_options.include_usage' must be a boolean",
                ))
            }
        },
        Some(_) => {
            return Err(ApiError::invalid_param(
                "stream_options",
                "'stream_options' must be an object",
            ))
        }
    };
    let mut client_cap: Option<i64> = None;
    for (name, value) in [
        ("max_completion_tokens", &peek.max_completion_tokens),
        ("max_tokens", &peek.max_tokens),
    ] {
        if let Some(v) = value.as_ref().filter(|v| !v.is_null()) {
            let n = v
                .as_i64()
                .filter(|n| (1..=MAX_COMPLETION_TOKENS).contains(n))
                .ok_or_else(|| ApiError::InvalidRequest {
                    message: format!(
                        "'{name}' must be an integer from 1 to {MAX_COMPLETION_TOKENS}"
                    ),
                    param: Some(name),
                })?;
            client_cap = Some(client_cap.map_or(n, |c| c.max(n)));
        }
    }
    let n = match &peek.n {
        None | Some(Value::Null) => 1,
        Some(v) => v
            .as_i64()
            .filter(|n| (1..=MAX_CHOICES).contains(n))
            .ok_or_else(|| {
                ApiError::invalid_param(
                    "n",
                    format!("'n' must be an integer from 1 to {MAX_CHOICES}"),
                )
            })?,
    };
    match endpoint {
        Endpoint::ChatCompletions | Endpoint::Messages | Endpoint::CountTokens => {
            let messages = peek
                .messages
                .ok_or_else(|| ApiError::invalid_param("messages", "'messages' is required"))?;
            let text = messages.get().trim_start();
            if !text.starts_with('[') {
                return Err(ApiError::invalid_param(
                    "messages",
                    "'messages' must be an array",
                ));
            }
            if text[1..].trim_start().starts_with(']') {
                return Err(ApiError::invalid_param(
                    "messages",
                    "'messages' must not be empty",
                ));
            }
        }
        // Read by `responses_body`.
        Endpoint::Responses => {}
        Endpoint::Embeddings => {
            let input = peek
                .input
                .ok_or_else(|| ApiError::invalid_param("input", "'input' is required"))?;
            let text = input.get().trim_start();
            if !(text.starts_with('"') || text.starts_with('[')) {
                return Err(ApiError::invalid_param(
                    "input",
                    "'input' must be a string or an array",
                ));
            }
            if stream {
                return Err(ApiError::invalid_param(
                    "stream",
                    "embeddings cannot stream",
                ));
            }
        }
    }
    let unpriced_tier = unpriced_tier(peek.service_tier)?;
    let sent_max_tokens = peek.max_tokens.is_some_and(|v| !v.is_null());
    let sent_max_completion_tokens = peek.max_completion_tokens.is_some_and(|v| !v.is_null());
    let end_user = super::who::from_body(&[peek.user.as_ref(), peek.safety_identifier.as_ref()]);
    Ok(ClientRequest {
        raw,
        model,
        stream,
        wants_usage_chunk,
        client_cap,
        sent_max_tokens,
        sent_max_completion_tokens,
        n,
        allowance: None,
        unpriced_tier,
        forwarded_headers: Vec::new(),
        end_user,
        ..ClientRequest::default()
    })
}

/// A boolean field that may be absent or null (false then).
pub fn optional_bool(
    value: Option<Value>,
    param: &'static str,
    message: &str,
) -> Result<bool, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(b),
        Some(_) => Err(ApiError::invalid_param(param, message)),
    }
}

/// Service tiers billed at (or below) the price book's standard prices.
const PRICED_TIERS: [&str; 4] = ["auto", "default", "flex", "standard_only"];

/// The `service_tier` asked for, when the price book cannot price it.
pub fn unpriced_tier(value: Option<Value>) -> Result<Option<String>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(t)) if PRICED_TIERS.contains(&t.as_str()) => Ok(None),
        Some(Value::String(t)) => Ok(Some(t)),
        Some(_) => Err(ApiError::invalid_param(
            "service_tier",
            "'service_tier' must be a string",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(body: &str) -> Result<ClientRequest, ApiError> {
        parse_request(
            Endpoint::ChatCompletions,
            bytes::Bytes::from(body.to_string()),
        )
    }

    #[test]
    fn validates_chat_bodies() {
        let ok = chat(r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}"#)
            .unwrap();
        assert!(ok.stream && !ok.wants_usage_chunk);
        let param = |r: Result<ClientRequest, ApiError>| r.err().unwrap().param();
        assert_eq!(param(chat(r#"{"messages":[{}]}"#)), Some("model"));
        assert_eq!(param(chat(r#"{"model":5,"messages":[{}]}"#)), Some("model"));
        assert_eq!(param(chat(r#"{"model":"m"}"#)), Some("messages"));
        assert_eq!(
            param(chat(r#"{"model":"m","messages":{}}"#)),
            Some("messages")
        );
        assert_eq!(
            param(chat(r#"{"model":"m","messages":[ ]}"#)),
            Some("messages")
        );
        assert_eq!(
            param(chat(r#"{"model":"m","messages":[{}],"stream":"yes"}"#)),
            Some("stream")
        );
        assert!(chat("[1,2]").is_err());
        assert!(chat("{\"model\":").is_err());
        assert!(chat("").is_err());
        let usage = chat(r#"{"model":"m","messages":[{}],"stream":true,"stream_options":{"include_usage":true}}"#)
            .unwrap();
        assert!(usage.wants_usage_chunk);
    }

    #[test]
    fn validates_embedding_bodies() {
        let emb = |b: &str| parse_request(Endpoint::Embeddings, bytes::Bytes::from(b.to_string()));
        assert!(emb(r#"{"model":"e","input":"text"}"#).is_ok());
        assert!(emb(r#"{"model":"e","input":["a","b"]}"#).is_ok());
        assert_eq!(
            emb(r#"{"model":"e"}"#).err().unwrap().param(),
            Some("input")
        );
        assert_eq!(
            emb(r#"{"model":"e","input":3}"#).err().unwrap().param(),
            Some("input")
        );
    }
}
