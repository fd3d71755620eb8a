//! Responses-API request bodies (`POST /v1/responses`): checked; a `previous_response_id`
//! resolved into the stored conversation's items (so that every provider, translated or
//! native, gets a self-contained request); the call's client-side context decided.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::openai_body::{unpriced_tier, MAX_COMPLETION_TOKENS, MAX_MODEL_NAME_BYTES};
use crate::accounting::prompt_bound::prompt_bound;
use crate::actors::response_store::Chain;
use crate::dialect::responses::client::read_tools;
use crate::dialect::responses::{new_id, Context};
use crate::error::ApiError;
use crate::state::AppState;
use crate::upstream::ClientRequest;

/// Request parameters a response object repeats.
const ECHOED: [&str; 14] = [
    "instructions",
    "max_output_tokens",
    "parallel_tool_calls",
    "previous_response_id",
    "reasoning",
    "temperature",
    "text",
    "tool_choice",
    "tools",
    "top_p",
    "truncation",
    "user",
    "metadata",
    "service_tier",
];

fn bool_field(
    body: &Map<String, Value>,
    name: &'static str,
    default: bool,
) -> Result<bool, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::invalid_param(
            name,
            format!("'{name}' must be a boolean"),
        )),
    }
}

/// The input as a list of items (a string is one user message).
fn as_items(input: &Value) -> Result<Vec<Value>, ApiError> {
    let items = match input {
        Value::String(text) => vec![json!({"type": "message", "role": "user",
            "content": [{"type": "input_text", "text": text}]})],
        Value::Array(items) => items.clone(),
        _ => {
            return Err(ApiError::invalid_param(
                "input",
                "'input' must be a string or an array of items",
            ))
        }
    };
    Ok(items)
}

/// The input items as stored: each with an id (what `input_items` lists).
fn with_ids(items: &[Value]) -> Vec<Value> {
    items
        .iter()
        .cloned()
        .map(|mut item| {
            if let Some(map) = item.as_object_mut() {
                if !map.contains_key("type") && map.contains_key("role") {
                    map.insert("type".into(), json!("message"));
                }
                if !map.contains_key("id") {
                    map.insert("id".into(), json!(new_id("msg")));
                }
            }
            item
        })
        .collect()
}

/// Checks a Responses request and reads what routing, budgets and the client side need.
pub async fn parse(state: &AppState, token_id: i32, raw: Bytes) -> Result<ClientRequest, ApiError> {
    if raw.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::invalid("request body must be a JSON object"));
    }
    let mut body: Map<String, Value> = serde_json::from_slice(&raw)
        .map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?;
    let model = match body.get("model") {
        Some(Value::String(s)) if s.len() > MAX_MODEL_NAME_BYTES => {
            return Err(ApiError::invalid_param(
                "model",
                format!("'model' is longer than {MAX_MODEL_NAME_BYTES} bytes"),
            ))
        }
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        _ => {
            return Err(ApiError::invalid_param(
                "model",
                "'model' is required (a non-empty string)",
            ))
        }
    };
    let stream = bool_field(&body, "stream", false)?;
    let store = bool_field(&body, "store", true)?;
    let cap = match body.get("max_output_tokens") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .filter(|n| (1..=MAX_COMPLETION_TOKENS).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid_param(
                        "max_output_tokens",
                        format!("'max_output_tokens' must be an integer from 1 to {MAX_COMPLETION_TOKENS}"),
                    )
                })?,
        ),
    };
    let previous = match body.get("previous_response_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if !id.is_empty() && id.len() <= 96 => Some(id.clone()),
        Some(_) => {
            return Err(ApiError::invalid_param(
                "previous_response_id",
                "'previous_response_id' must be a response id",
            ))
        }
    };
    let input = match body.get("input") {
        None | Some(Value::Null) => {
            return Err(ApiError::invalid_param("input", "'input' is required"))
        }
        Some(input) => as_items(input)?,
    };
    if input.is_empty() && previous.is_none() {
        return Err(ApiError::invalid_param(
            "input",
            "'input' must not be empty",
        ));
    }
    let tools = read_tools(body.get("tools"))?;
    let unpriced_tier = unpriced_tier(body.get("service_tier").cloned())?;
    let echo: Map<String, Value> = ECHOED
        .iter()
        .filter_map(|k| body.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect();
    let mut raw = raw;
    if let Some(id) = &previous {
        // The stored conversation, then this call's input: one self-contained request.
        let mut items = state
            .responses
            .send(Chain {
                id: id.clone(),
                token_id,
            })
            .await
            .map_err(|e| ApiError::internal("response store unavailable", e))??;
        items.extend(input.iter().cloned());
        body.remove("previous_response_id");
        body.insert("input".into(), Value::Array(items));
        raw = Bytes::from(Value::Object(body).to_string());
    }
    let bound = prompt_bound(&raw, &model);
    let ctx = Context {
        id: new_id("resp"),
        created_at: crate::time::now_ms() / 1000,
        model: model.clone(),
        custom_tools: tools.custom,
        namespaced: tools.namespaced,
        echo,
        store,
        previous_response_id: previous,
        input: if store { with_ids(&input) } else { Vec::new() },
    };
    Ok(ClientRequest {
        prompt_tokens: bound.tokens,
        unbounded: bound.unbounded,
        raw,
        model,
        stream,
        wants_usage_chunk: false,
        client_cap: cap,
        sent_max_tokens: false,
        sent_max_completion_tokens: false,
        n: 1,
        allowance: None,
        unpriced_tier,
        forwarded_headers: Vec::new(),
        responses: Some(Arc::new(ctx)),
    })
}
