//! Responses-API request bodies (`POST /v1/responses`): checked, and what routing, budgets
//! and the client side need read — without building the body (its input stays text until
//! a translation or the store needs it). A `previous_response_id` is resolved into the
//! stored conversation's items in a second step (`resolve_chain`), after admission's cheap
//! checks passed, so that every provider, translated or native, gets a self-contained
//! request.

use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::chat_body::{unpriced_tier, MAX_COMPLETION_TOKENS, MAX_MODEL_NAME_BYTES};
use crate::actors::response_store::Chain;
use crate::dialect::responses::client::read_tools;
use crate::dialect::responses::{new_id, Context};
use crate::error::ApiError;
use crate::state::AppState;
use crate::upstream::ClientRequest;

/// The fields of a Responses request the gateway reads; everything else passes through.
#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(default)]
    model: Option<Value>,
    #[serde(default)]
    stream: Option<Value>,
    #[serde(default)]
    store: Option<Value>,
    #[serde(default)]
    max_output_tokens: Option<Value>,
    #[serde(default)]
    previous_response_id: Option<Value>,
    #[serde(default)]
    service_tier: Option<Value>,
    #[serde(default, borrow)]
    input: Option<&'a RawValue>,
    #[serde(default)]
    tools: Option<Value>,
    // Echoed by the response object.
    #[serde(default)]
    instructions: Option<Value>,
    #[serde(default)]
    parallel_tool_calls: Option<Value>,
    #[serde(default)]
    reasoning: Option<Value>,
    #[serde(default)]
    temperature: Option<Value>,
    #[serde(default)]
    text: Option<Value>,
    #[serde(default)]
    tool_choice: Option<Value>,
    #[serde(default)]
    top_p: Option<Value>,
    #[serde(default)]
    truncation: Option<Value>,
    #[serde(default)]
    user: Option<Value>,
    #[serde(default)]
    safety_identifier: Option<Value>,
    #[serde(default)]
    metadata: Option<Value>,
}

fn bool_field(value: &Option<Value>, name: &'static str, default: bool) -> Result<bool, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::invalid_param(
            name,
            format!("'{name}' must be a boolean"),
        )),
    }
}

/// Checks a Responses request and reads what routing, budgets and the client side need.
pub fn parse(raw: Bytes) -> Result<ClientRequest, ApiError> {
    if raw.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::invalid("request body must be a JSON object"));
    }
    let peek: Peek = serde_json::from_slice(&raw)
        .map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?;
    let model = match &peek.model {
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
    let stream = bool_field(&peek.stream, "stream", false)?;
    let store = bool_field(&peek.store, "store", true)?;
    let cap = match &peek.max_output_tokens {
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
    let previous = match &peek.previous_response_id {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if !id.is_empty() && id.len() <= 96 => Some(id.clone()),
        Some(_) => {
            return Err(ApiError::invalid_param(
                "previous_response_id",
                "'previous_response_id' must be a response id",
            ))
        }
    };
    let input = peek
        .input
        .map(|i| i.get().trim_start())
        .filter(|i| !i.starts_with("null"))
        .ok_or_else(|| ApiError::invalid_param("input", "'input' is required"))?;
    let empty = if let Some(items) = input.strip_prefix('[') {
        items.trim_start().starts_with(']')
    } else if input.starts_with('"') {
        false
    } else {
        return Err(ApiError::invalid_param(
            "input",
            "'input' must be a string or an array of items",
        ));
    };
    if empty && previous.is_none() {
        return Err(ApiError::invalid_param(
            "input",
            "'input' must not be empty",
        ));
    }
    let tools = read_tools(peek.tools.as_ref())?;
    let unpriced_tier = unpriced_tier(peek.service_tier.clone())?;
    let end_user = super::who::from_body(&[peek.user.as_ref(), peek.safety_identifier.as_ref()]);
    let mut echo = Map::new();
    for (name, value) in [
        ("instructions", peek.instructions),
        ("max_output_tokens", peek.max_output_tokens),
        ("parallel_tool_calls", peek.parallel_tool_calls),
        ("previous_response_id", peek.previous_response_id),
        ("reasoning", peek.reasoning),
        ("temperature", peek.temperature),
        ("text", peek.text),
        ("tool_choice", peek.tool_choice),
        ("tools", peek.tools),
        ("top_p", peek.top_p),
        ("truncation", peek.truncation),
        ("user", peek.user),
        ("metadata", peek.metadata),
        ("service_tier", peek.service_tier),
    ] {
        if let Some(value) = value {
            echo.insert(name.to_string(), value);
        }
    }
    let ctx = Context {
        id: new_id("resp"),
        created_at: crate::time::now_ms() / 1000,
        model: model.clone(),
        custom_tools: tools.custom,
        namespaced: tools.namespaced,
        echo,
        store,
        previous_response_id: previous,
        input: if store {
            input.to_string()
        } else {
            String::new()
        },
    };
    Ok(ClientRequest {
        raw,
        model,
        stream,
        client_cap: cap,
        n: 1,
        unpriced_tier,
        responses: Some(Arc::new(ctx)),
        end_user,
        ..ClientRequest::default()
    })
}

/// Resolves a `previous_response_id` into the stored conversation's items followed by this
/// call's input: one self-contained request. Run after admission's cheap checks.
pub async fn resolve_chain(
    state: &AppState,
    token_id: i32,
    req: &mut ClientRequest,
) -> Result<(), ApiError> {
    let Some(id) = req
        .responses
        .as_ref()
        .and_then(|ctx| ctx.previous_response_id.clone())
    else {
        return Ok(());
    };
    let items = state
        .responses
        .send(Chain { id, token_id })
        .await
        .map_err(|e| ApiError::internal("response store unavailable", e))??;
    // The body's own fields as text, the input replaced: nothing but the chain is parsed.
    let fields: std::collections::BTreeMap<String, &RawValue> = serde_json::from_slice(&req.raw)
        .map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?;
    let mut spliced = Vec::with_capacity(req.raw.len() + 64);
    spliced.push(b'{');
    for (name, value) in &fields {
        if matches!(name.as_str(), "input" | "previous_response_id") {
            continue;
        }
        serde_json::to_writer(&mut spliced, name)
            .map_err(|e| ApiError::internal("cannot encode request", e))?;
        spliced.push(b':');
        spliced.extend_from_slice(value.get().as_bytes());
        spliced.push(b',');
    }
    spliced.extend_from_slice(b"\"input\":[");
    let mut first = true;
    for item in &items {
        if !std::mem::take(&mut first) {
            spliced.push(b',');
        }
        serde_json::to_writer(&mut spliced, item)
            .map_err(|e| ApiError::internal("cannot encode request", e))?;
    }
    let own = fields.get("input").map_or("[]", |i| i.get()).trim();
    let own_items = match own.strip_prefix('[') {
        Some(array) => array.strip_suffix(']').unwrap_or("").trim().to_string(),
        // A string input is one user message.
        None => crate::dialect::responses::user_message(
            &serde_json::from_str::<String>(own).unwrap_or_default(),
        )
        .to_string(),
    };
    if !own_items.is_empty() {
        if !first {
            spliced.push(b',');
        }
        spliced.extend_from_slice(own_items.as_bytes());
    }
    spliced.extend_from_slice(b"]}");
    req.raw = Bytes::from(spliced);
    Ok(())
}
