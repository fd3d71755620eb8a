//! `POST /v1/responses/compact`: Codex's remote compaction of a long conversation, one call
//! through the gateway like any other — admitted, routed, billed and logged (endpoint
//! `responses.compact`). A native Responses upstream (OpenAI) gets the client's own body on
//! its `/responses/compact` and its answer (with the encrypted compaction item) comes back
//! as it is; every other leg — and a budgeted token's, as the endpoint takes no output cap —
//! summarises the history (`input`, with the model and the `instructions`) in one capped
//! Responses call, answered as `{"output": [...]}`: the user's own recent messages, then a
//! handoff summary as a user message, the items Codex puts in place of the history.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::body::read_body;
use super::call_flow::{handle_as, CallBody};
use crate::core::endpoint::{Dialect, Endpoint};
use crate::error::ApiError;
use crate::handlers::schemas::ErrorBody;
use crate::state::AppState;
use crate::upstream::http::UpstreamHttp;

/// What the summarising call is asked, after the history.
const ASK: &str = "Write a handoff summary of the conversation above for whoever continues \
this task: the goal, what was done and decided, the files and commands involved, the current \
state, and the next steps. Be concise and concrete; do not continue the task itself.";

/// What the summary is introduced with in the compacted history.
const SUMMARY_PREFIX: &str = "Summary of the conversation so far (compacted by the gateway):";

/// The user's own messages kept verbatim in the compacted history, newest first, at most.
const KEPT_USER_CHARS: usize = 20_000;

/// `POST /v1/responses/compact`
#[utoipa::path(post, path = "/v1/responses/compact", tag = "client", security(("bearer" = [])),
    request_body = serde_json::Value,
    responses((status = 200, body = serde_json::Value, description = "`{\"object\": \"response.compaction\", \"output\": [items], \"usage\"}`"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 502, body = ErrorBody), (status = 503, body = ErrorBody), (status = 504, body = ErrorBody)))]
pub async fn compact(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<UpstreamHttp>,
) -> HttpResponse {
    let fail = |e: ApiError| crate::dialect::errors::answer(Dialect::Responses, &e);
    let raw = match read_body(&req, payload, state.settings.server.max_body_bytes).await {
        Ok(raw) => raw,
        Err(e) => return fail(e),
    };
    let (ask, input) = match summarising_call(&raw) {
        Ok(made) => made,
        Err(e) => return fail(e),
    };
    let body = CallBody::Compaction {
        summarising: ask.to_string().into(),
        native: raw,
    };
    let answer = handle_as(
        Endpoint::Responses,
        "responses.compact",
        &req,
        body,
        &state,
        &client,
    )
    .await;
    if !answer.status().is_success() {
        return answer;
    }
    let bytes = match actix_web::body::to_bytes(answer.into_body()).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return fail(ApiError::UpstreamFailed(
                "the summary could not be read".into(),
            ))
        }
    };
    let Ok(response) = serde_json::from_slice::<Value>(&bytes) else {
        return fail(ApiError::UpstreamFailed("the summary was not JSON".into()));
    };
    if response["object"] == "response.compaction" {
        // A native Responses upstream compacted it itself (its encrypted compaction item).
        return HttpResponse::Ok()
            .content_type("application/json")
            .body(bytes);
    }
    HttpResponse::Ok().json(compacted(&input, &response))
}

/// The Responses call that summarises the history, and the history itself.
fn summarising_call(raw: &[u8]) -> Result<(Value, Vec<Value>), ApiError> {
    let body: Value = serde_json::from_slice(raw)
        .map_err(|e| ApiError::invalid(format!("the body is not JSON: {e}")))?;
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid_param("model", "model is required"))?;
    let input = match body.get("input") {
        Some(Value::Array(items)) => items.clone(),
        Some(Value::String(text)) => vec![user_message(text)],
        _ => {
            return Err(ApiError::invalid_param(
                "input",
                "input must be a list of items",
            ))
        }
    };
    let mut items = input.clone();
    items.push(user_message(ASK));
    let mut ask = json!({"model": model, "input": items, "store": false, "stream": false});
    if let Some(instructions) = body.get("instructions").and_then(Value::as_str) {
        ask["instructions"] = json!(instructions);
    }
    Ok((ask, input))
}

fn user_message(text: &str) -> Value {
    json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
}

/// The text of a user message item (its text parts joined), if it is one.
fn user_text(item: &Value) -> Option<String> {
    if item.get("role").and_then(Value::as_str) != Some("user") {
        return None;
    }
    match item.get("content")? {
        Value::String(text) => Some(text.clone()),
        Value::Array(parts) => Some(
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        _ => None,
    }
}

/// The compacted history: the user's recent messages (newest kept first, within
/// `KEPT_USER_CHARS`, in their order), then the summary.
fn compacted(input: &[Value], response: &Value) -> Value {
    let mut kept = Vec::new();
    let mut budget = KEPT_USER_CHARS;
    for item in input.iter().rev() {
        let Some(text) = user_text(item) else {
            continue;
        };
        if text.len() > budget {
            break;
        }
        budget -= text.len();
        kept.push(user_message(&text));
    }
    kept.reverse();
    let summary: String = response
        .get("output")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|item| item.get("type").and_then(Value::as_str) == Some("message"))
        .flat_map(|item| {
            item.get("content")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(|part| part.get("text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join("\n");
    kept.push(user_message(&format!("{SUMMARY_PREFIX}\n{summary}")));
    json!({
        "object": "response.compaction",
        "output": kept,
        "usage": response.get("usage").cloned().unwrap_or(Value::Null),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_becomes_recent_user_messages_and_a_summary() {
        let input = vec![
            user_message("first task"),
            json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "done"}]}),
            json!({"type": "function_call", "name": "shell", "arguments": "{}", "call_id": "c1"}),
            json!({"role": "user", "content": "second task"}),
        ];
        let response = json!({"output": [{"type": "message", "content": [{"type": "output_text", "text": "We did X."}]}],
                              "usage": {"input_tokens": 10}});
        let out = compacted(&input, &response);
        let items = out["output"].as_array().unwrap();
        assert_eq!(items.len(), 3, "{out}");
        assert_eq!(items[0]["content"][0]["text"], "first task");
        assert_eq!(items[1]["content"][0]["text"], "second task");
        let summary = items[2]["content"][0]["text"].as_str().unwrap();
        assert!(summary.starts_with(SUMMARY_PREFIX) && summary.ends_with("We did X."));
        assert_eq!(out["usage"]["input_tokens"], 10);
    }

    #[test]
    fn bad_bodies_are_refused_with_the_field() {
        assert!(summarising_call(b"not json").is_err());
        let e = summarising_call(br#"{"input": []}"#).unwrap_err();
        assert_eq!(e.param(), Some("model"));
        let e = summarising_call(br#"{"model": "m", "input": 5}"#).unwrap_err();
        assert_eq!(e.param(), Some("input"));
        let (ask, _) =
            summarising_call(br#"{"model": "m", "input": "hi", "instructions": "be brief"}"#)
                .unwrap();
        assert_eq!(ask["input"].as_array().unwrap().len(), 2);
        assert_eq!(
            (ask["store"].as_bool(), ask["stream"].as_bool()),
            (Some(false), Some(false))
        );
        assert_eq!(ask["instructions"], "be brief");
    }
}
