//! What a translation reads of a Responses input item (`client.rs` decodes nothing else):
//! the stored input of a translated call keeps only that, so the store never holds more
//! than the upstream was sent.

use serde_json::{Map, Value};

use super::SIGNATURE_PREFIX;
use crate::core::endpoint::Dialect;

/// Fields a translation reads per item type.
fn fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "message" => &["type", "role", "content", "id"],
        "function_call" => &["type", "call_id", "name", "arguments", "namespace", "id"],
        "custom_tool_call" => &["type", "call_id", "name", "input", "id"],
        "function_call_output" | "custom_tool_call_output" => &["type", "call_id", "output", "id"],
        "reasoning" => &["type", "summary", "encrypted_content", "id"],
        _ => &[],
    }
}

/// Fields a translation reads per content part type.
fn part_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "input_text" | "output_text" | "text" | "refusal" => &["type", "text", "refusal"],
        "input_image" => &["type", "image_url", "file_id", "detail"],
        "input_file" => &["type", "file_data", "file_id", "file_url", "filename"],
        _ => &[],
    }
}

fn keep(map: Map<String, Value>, allowed: &[&str]) -> Map<String, Value> {
    map.into_iter()
        .filter(|(k, _)| allowed.contains(&k.as_str()))
        .collect()
}

fn parts(value: Value) -> Value {
    match value {
        Value::Array(parts) => Value::Array(
            parts
                .into_iter()
                .filter_map(|p| match p {
                    Value::Object(part) => {
                        let kind = part.get("type").and_then(Value::as_str).unwrap_or("");
                        let allowed = part_fields(kind);
                        Some(Value::Object(keep(part, allowed)))
                    }
                    _ => None,
                })
                .collect(),
        ),
        other => other,
    }
}

/// An input item as a translation to `to` sent it; `None` when it sent nothing of it.
pub fn item(map: Map<String, Value>, to: Dialect) -> Option<Map<String, Value>> {
    let kind = map
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut map = keep(map, fields(&kind));
    if let Some(content) = map.remove("content") {
        map.insert("content".into(), parts(content));
    }
    if let Some(output) = map.remove("output") {
        map.insert("output".into(), parts(output));
    }
    if kind == "reasoning" {
        // Only a Claude signature goes back (with its text), and only to Claude; unsigned
        // reasoning is left out by the upstream sides.
        let signed = map
            .get("encrypted_content")
            .and_then(Value::as_str)
            .is_some_and(|c| c.starts_with(SIGNATURE_PREFIX));
        if !(signed && to == Dialect::Messages) {
            return None;
        }
    }
    Some(map)
}
