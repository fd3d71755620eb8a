//! OpenAI's Responses API, as a provider that speaks it natively (`responses = "native"`):
//! text `tok0 tok1 …` (stopping at `max_output_tokens`, then `incomplete`), or a call of the
//! first offered function tool while the last input item is no tool output; whole or
//! streamed with the real event sequence.

use bytes::Bytes;
use serde_json::{json, Value};

use crate::{arrive, Call, Reply, Shared};

pub(crate) async fn responses_reply(call: Call<'_>, state: &Shared) -> Reply {
    let Ok(body) = serde_json::from_slice::<Value>(call.body) else {
        return Reply::error(400, "invalid JSON");
    };
    let (fault, error) = arrive(state, &call, &body).await;
    if let Some((status, message)) = error {
        return Reply::error(status, &message);
    }
    if body
        .get("previous_response_id")
        .is_some_and(|v| !v.is_null())
    {
        // The gateway keeps state itself: it must send whole conversations.
        return Reply::error(400, "mock: previous_response_id is not expected upstream");
    }
    let model = body["model"].as_str().unwrap_or("mock").to_string();
    let natural = body
        .pointer("/mock/default_tokens")
        .and_then(Value::as_u64)
        .or_else(|| crate::openai::long_model(&body))
        .unwrap_or(8);
    let cap = body["max_output_tokens"].as_u64();
    let n = cap.unwrap_or(natural).min(natural).clamp(1, 100_000) as usize;
    let incomplete = cap.is_some_and(|c| c < natural);
    let prompt = if crate::worst_case::applies(&body) {
        crate::worst_case::prompt_tokens(&body)
    } else {
        (body["input"].to_string().len() / 4 + 1) as i64
    };
    let answered = body["input"]
        .as_array()
        .and_then(|items| items.last())
        .is_some_and(|i| {
            matches!(
                i["type"].as_str(),
                Some("function_call_output") | Some("custom_tool_call_output")
            )
        });
    let tool = body
        .pointer("/tools/0/name")
        .and_then(Value::as_str)
        .filter(|_| !answered);
    let (item, completion) = match tool {
        Some(name) => (
            json!({"id": "fc_mock_1", "type": "function_call", "status": "completed",
                "call_id": "call_mock_1", "name": name,
                "arguments": "{\"city\":\"Paris\",\"unit\":\"celsius\"}"}),
            12,
        ),
        None => {
            let text: String = (0..n).map(|i| format!("tok{i} ")).collect();
            (
                json!({"id": "msg_mock_1", "type": "message", "status": "completed",
                    "role": "assistant", "content": [{"type": "output_text", "text": text,
                        "annotations": []}]}),
                n as i64,
            )
        }
    };
    let no_usage = fault.as_ref().is_some_and(|f| f.no_usage == Some(true));
    let status = if incomplete && tool.is_none() {
        "incomplete"
    } else {
        "completed"
    };
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let id = format!(
        "resp_mock_{}",
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let mut response = json!({"id": id, "object": "response",
        "created_at": 1_700_000_000, "status": status, "model": model, "output": [item],
        "incomplete_details": if status == "incomplete" {
            json!({"reason": "max_output_tokens"}) } else { Value::Null },
        "usage": {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": completion, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt + completion}});
    if crate::billed::applies(&body) {
        let (usage, searches) = crate::billed::responses(completion);
        response["usage"] = usage;
        response["service_tier"] = json!("priority");
        let output = response["output"].as_array_mut().expect("an array");
        output.splice(0..0, searches);
    }
    if no_usage {
        response["usage"] = Value::Null;
    }
    if !body["stream"].as_bool().unwrap_or(false) {
        return Reply::json(200, response);
    }
    let mut seq = 0u64;
    let mut events: Vec<Bytes> = Vec::new();
    let mut emit = |kind: &str, mut data: Value| {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(seq);
        seq += 1;
        events.push(Bytes::from(format!("event: {kind}\ndata: {data}\n\n")));
    };
    let mut open = response.clone();
    open["status"] = json!("in_progress");
    open["output"] = json!([]);
    open["usage"] = Value::Null;
    emit("response.created", json!({"response": open.clone()}));
    emit("response.in_progress", json!({"response": open}));
    let mut added = item.clone();
    added["status"] = json!("in_progress");
    if item["type"] == "message" {
        added["content"] = json!([]);
        emit(
            "response.output_item.added",
            json!({"output_index": 0, "item": added}),
        );
        emit(
            "response.content_part.added",
            json!({"item_id": "msg_mock_1", "output_index": 0, "content_index": 0,
                "part": {"type": "output_text", "text": "", "annotations": []}}),
        );
        for i in 0..n {
            emit(
                "response.output_text.delta",
                json!({"item_id": "msg_mock_1", "output_index": 0, "content_index": 0,
                    "delta": format!("tok{i} ")}),
            );
        }
        let text = &item["content"][0]["text"];
        emit(
            "response.output_text.done",
            json!({"item_id": "msg_mock_1", "output_index": 0, "content_index": 0, "text": text}),
        );
    } else {
        added["arguments"] = json!("");
        emit(
            "response.output_item.added",
            json!({"output_index": 0, "item": added}),
        );
        emit(
            "response.function_call_arguments.delta",
            json!({"item_id": "fc_mock_1", "output_index": 0, "delta": item["arguments"]}),
        );
        emit(
            "response.function_call_arguments.done",
            json!({"item_id": "fc_mock_1", "output_index": 0, "arguments": item["arguments"]}),
        );
    }
    emit(
        "response.output_item.done",
        json!({"output_index": 0, "item": item}),
    );
    let end = if status == "incomplete" {
        "response.incomplete"
    } else {
        "response.completed"
    };
    emit(end, json!({"response": response}));
    Reply::sse(events, fault.as_ref(), &body)
}

/// OpenAI's native compaction (`/v1/responses/compact`): the user's messages kept, then one
/// `compaction` item with opaque "encrypted" content, and the call's usage.
pub(crate) async fn compact_reply(call: Call<'_>, state: &Shared) -> Reply {
    let Ok(body) = serde_json::from_slice::<Value>(call.body) else {
        return Reply::error(400, "invalid JSON");
    };
    let (_, error) = arrive(state, &call, &body).await;
    if let Some((status, message)) = error {
        return Reply::error(status, &message);
    }
    for unknown in ["max_output_tokens", "stream", "tools"] {
        if body.get(unknown).is_some() {
            return Reply::error(
                400,
                &format!("mock: {unknown} is not a compaction parameter"),
            );
        }
    }
    let mut output: Vec<Value> = body["input"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|item| item["role"] == "user")
        .cloned()
        .collect();
    output.push(json!({"type": "compaction", "id": "cmp_mock",
        "encrypted_content": "mock-encrypted-summary"}));
    let prompt = (body["input"].to_string().len() / 4 + 1) as i64;
    Reply::json(
        200,
        json!({"id": "cmp_mock", "object": "response.compaction", "created_at": 1_700_000_000,
            "model": body["model"], "output": output,
            "usage": {"input_tokens": prompt, "output_tokens": 7, "total_tokens": prompt + 7,
                      "input_tokens_details": {"cached_tokens": 0},
                      "output_tokens_details": {"reasoning_tokens": 0}}}),
    )
}
