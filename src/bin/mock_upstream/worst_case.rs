//! A worst-case prompt count, for models whose name ends in `-bytes` (it survives
//! translation, which drops a body's `mock` options): what a byte-level tokenizer reading
//! the whole request could spend — one token per UTF-8 byte of every string, key and
//! number — plus each image at what the serving model charges (gpt-4o-mini 48,200, others
//! 1,600) and each PDF page at 3,000, pages found however the file writes them.

use base64::Engine;
use serde_json::Value;

/// Fields that are parameters, not prompt.
const PARAMETERS: [&str; 8] = [
    "model",
    "mock",
    "stream",
    "stream_options",
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "store",
];

pub(crate) fn applies(body: &Value) -> bool {
    body.get("model")
        .and_then(Value::as_str)
        .is_some_and(|m| m.ends_with("-bytes"))
}

pub(crate) fn prompt_tokens(body: &Value) -> i64 {
    let image = if body["model"].as_str().unwrap_or("").contains("4o-mini") {
        48_200
    } else {
        1_600
    };
    let Some(top) = body.as_object() else {
        return 0;
    };
    top.iter()
        .filter(|(k, _)| !PARAMETERS.contains(&k.as_str()))
        .map(|(k, v)| k.len() as i64 + count(v, image))
        .sum()
}

fn count(v: &Value, image: i64) -> i64 {
    match v {
        Value::String(s) => s.len() as i64,
        Value::Number(n) => n.to_string().len() as i64,
        Value::Bool(_) | Value::Null => 4,
        Value::Array(items) => items.iter().map(|i| count(i, image)).sum(),
        Value::Object(map) => {
            let kind = map.get("type").and_then(Value::as_str).unwrap_or("");
            if matches!(kind, "image_url" | "image" | "input_image") {
                return image;
            }
            if let Some(data) = pdf_data(map) {
                return pages(&data) * 3_000;
            }
            map.iter()
                .map(|(k, v)| k.len() as i64 + count(v, image))
                .sum()
        }
    }
}

/// A base64 PDF in any dialect's document or file part.
fn pdf_data(map: &serde_json::Map<String, Value>) -> Option<Vec<u8>> {
    let data = map
        .get("file_data")
        .or_else(|| map.get("file").and_then(|f| f.get("file_data")))
        .or_else(|| map.get("source").and_then(|s| s.get("data")))?
        .as_str()?;
    let data = data.rsplit(',').next().unwrap_or(data);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .ok()?;
    bytes.starts_with(b"%PDF").then_some(bytes)
}

/// `/Type` then `/Page` (not `/Pages`) with any white space between.
fn pages(pdf: &[u8]) -> i64 {
    let mut pages = 0;
    let mut i = 0;
    while let Some(at) = find(&pdf[i..], b"/Type") {
        let mut j = i + at + 5;
        while j < pdf.len() && pdf[j].is_ascii_whitespace() {
            j += 1;
        }
        if pdf[j..].starts_with(b"/Page") && pdf.get(j + 5) != Some(&b's') {
            pages += 1;
        }
        i = j;
    }
    pages
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
