//! The Responses API's client side, answer half: a core answer as a response object
//! (output items, status, usage, the request's parameters echoed).

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::{new_id, Context, SIGNATURE_PREFIX};
use crate::core::reply::{Reply, StopReason};
use crate::core::request::Block;
use crate::core::usage::Usage;

/// Responses usage from the core's.
pub fn usage_object(usage: Option<&Usage>) -> Value {
    let u = usage.copied().unwrap_or_default();
    json!({
        "input_tokens": u.prompt_tokens,
        "input_tokens_details": {"cached_tokens": u.cached_tokens},
        "output_tokens": u.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "total_tokens": u.prompt_tokens + u.completion_tokens,
    })
}

/// A response object: `status` `in_progress`, `completed`, `incomplete` (with the reason)
/// or `failed`, with the request's parameters repeated.
pub fn response_object(
    ctx: &Context,
    status: &str,
    output: Vec<Value>,
    usage: Option<Value>,
    stop: Option<StopReason>,
) -> Value {
    let mut object = Map::new();
    object.insert("id".into(), json!(ctx.id));
    object.insert("object".into(), json!("response"));
    object.insert("created_at".into(), json!(ctx.created_at));
    object.insert("status".into(), json!(status));
    object.insert("error".into(), Value::Null);
    let incomplete = match (status, stop) {
        ("incomplete", Some(StopReason::Refusal)) => json!({"reason": "content_filter"}),
        ("incomplete", _) => json!({"reason": "max_output_tokens"}),
        _ => Value::Null,
    };
    object.insert("incomplete_details".into(), incomplete);
    object.insert("model".into(), json!(ctx.model));
    object.insert("output".into(), Value::Array(output));
    for (key, default) in [
        ("instructions", Value::Null),
        ("max_output_tokens", Value::Null),
        ("parallel_tool_calls", json!(true)),
        ("previous_response_id", Value::Null),
        ("reasoning", json!({"effort": null, "summary": null})),
        ("temperature", json!(1.0)),
        ("text", json!({"format": {"type": "text"}})),
        ("tool_choice", json!("auto")),
        ("tools", json!([])),
        ("top_p", json!(1.0)),
        ("truncation", json!("disabled")),
        ("user", Value::Null),
        ("metadata", json!({})),
    ] {
        let value = ctx.echo.get(key).cloned().unwrap_or(default);
        object.insert(key.into(), value);
    }
    object.insert("store".into(), json!(ctx.store));
    object.insert("usage".into(), usage.unwrap_or(Value::Null));
    Value::Object(object)
}

pub(super) fn status_of(stop: Option<StopReason>) -> &'static str {
    match stop {
        Some(StopReason::MaxTokens) | Some(StopReason::Refusal) => "incomplete",
        _ => "completed",
    }
}

pub(super) fn message_item(id: &str, status: &str, text: &str) -> Value {
    json!({"id": id, "type": "message", "status": status, "role": "assistant",
        "content": if status == "in_progress" && text.is_empty() { json!([]) } else {
            json!([output_text(text)]) }})
}

pub(super) fn output_text(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
}

pub(super) fn reasoning_item(id: &str, text: &str, signature: &str) -> Value {
    let mut item = json!({"id": id, "type": "reasoning",
        "summary": if text.is_empty() { json!([]) } else {
            json!([{"type": "summary_text", "text": text}]) }});
    if !signature.is_empty() {
        item["encrypted_content"] = json!(format!("{SIGNATURE_PREFIX}{signature}"));
    }
    item
}

/// A tool call as a `function_call` or, for a custom tool, a `custom_tool_call` item.
pub(super) fn tool_item(
    ctx: &Context,
    id: &str,
    status: &str,
    call_id: &str,
    name: &str,
    args: &str,
) -> Value {
    if ctx.is_custom(name) {
        let input = serde_json::from_str::<Value>(args)
            .ok()
            .and_then(|v| v.get("input").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| args.to_string());
        return json!({"id": id, "type": "custom_tool_call", "status": status,
            "call_id": call_id, "name": name, "input": input});
    }
    let mut item = json!({"id": id, "type": "function_call", "status": status,
        "call_id": call_id, "name": name, "arguments": args});
    if let Some(ns) = ctx.namespace_of(name) {
        item["namespace"] = json!(ns);
    }
    item
}

/// The output items of a whole answer.
pub fn output_items(ctx: &Context, reply: &Reply) -> Vec<Value> {
    let mut items = Vec::new();
    let mut text = String::new();
    let flush = |text: &mut String, items: &mut Vec<Value>| {
        if !text.is_empty() {
            items.push(message_item(&new_id("msg"), "completed", text));
            text.clear();
        }
    };
    for block in &reply.blocks {
        match block {
            Block::Text(part) => text.push_str(&part.text),
            Block::Thinking { text: t, signature } => {
                flush(&mut text, &mut items);
                items.push(reasoning_item(&new_id("rs"), t, signature));
            }
            Block::ToolUse { id, name, input } => {
                flush(&mut text, &mut items);
                items.push(tool_item(
                    ctx,
                    &new_id("fc"),
                    "completed",
                    id,
                    name,
                    &input.to_string(),
                ));
            }
            _ => {}
        }
    }
    flush(&mut text, &mut items);
    items
}

/// A whole answer as a response object.
pub fn encode_reply(reply: &Reply, ctx: &Context) -> Bytes {
    Bytes::from(reply_object(reply, ctx).to_string())
}

/// A whole answer as a response object (before it is written out).
pub fn reply_object(reply: &Reply, ctx: &Context) -> Value {
    response_object(
        ctx,
        status_of(reply.stop),
        output_items(ctx, reply),
        Some(usage_object(reply.usage.as_ref())),
        reply.stop,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::request::TextPart;

    fn ctx() -> Context {
        Context {
            id: "resp_1".into(),
            model: "m".into(),
            custom_tools: vec!["apply_patch".into()],
            store: true,
            ..Context::default()
        }
    }

    #[test]
    fn encodes_a_whole_answer_with_custom_calls_and_incomplete_status() {
        let reply = Reply {
            blocks: vec![
                Block::Thinking {
                    text: "think".into(),
                    signature: "sig".into(),
                },
                Block::Text(TextPart::new("hello")),
                Block::ToolUse {
                    id: "c1".into(),
                    name: "apply_patch".into(),
                    input: json!({"input": "*** Begin Patch"}),
                },
            ],
            stop: Some(StopReason::MaxTokens),
            usage: Some(Usage {
                prompt_tokens: 10,
                completion_tokens: 5,
                cached_tokens: 2,
                reasoning_tokens: 3,
                ..Usage::default()
            }),
            ..Reply::default()
        };
        let body: Value = serde_json::from_slice(&encode_reply(&reply, &ctx())).unwrap();
        assert_eq!(body["status"], "incomplete");
        assert_eq!(body["incomplete_details"]["reason"], "max_output_tokens");
        assert_eq!(body["output"][0]["type"], "reasoning");
        assert_eq!(body["output"][0]["encrypted_content"], "gz-claude:sig");
        assert_eq!(body["output"][1]["content"][0]["text"], "hello");
        assert_eq!(body["output"][2]["type"], "custom_tool_call");
        assert_eq!(body["output"][2]["input"], "*** Begin Patch");
        assert_eq!(body["usage"]["input_tokens_details"]["cached_tokens"], 2);
        assert_eq!(
            body["usage"]["output_tokens_details"]["reasoning_tokens"],
            3
        );
        assert_eq!(body["usage"]["total_tokens"], 15);
    }
}
