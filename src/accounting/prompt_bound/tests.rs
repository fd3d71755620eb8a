//! The prompt bound against what tokenizers can count: escapes, numbers, scripts, media,
//! PDFs and tools however written.

use super::*;
use serde_json::json;

fn reader(dialect: Dialect, model: &str) -> Reader {
    Reader {
        dialect,
        image_tokens: image_tokens(model),
    }
}

fn chat(body: &Value) -> PromptBound {
    prompt_bound(body.to_string().as_bytes(), reader(Dialect::Chat, "gpt-4o")).unwrap()
}

fn raw(body: &str, dialect: Dialect) -> PromptBound {
    prompt_bound(body.as_bytes(), reader(dialect, "gpt-4o")).unwrap()
}

#[test]
fn text_is_one_token_a_byte_whatever_the_script() {
    for text in [
        "abcd", "1234", "!?.;", "你好", "ߊߋߌߍ", "ܐܒܓ", "ހށނ", "😀", "aZ3x9Q",
    ] {
        let body = json!({"model": "m", "messages": [{"role": "user", "content": text}]});
        let b = chat(&body);
        assert!(b.tokens >= text.len() as i64, "{text}: {b:?}");
        // Never below the typical estimate the gateway bills without usage.
        let typical = crate::core::usage::TextEstimate::of_bytes(text.as_bytes()).tokens();
        assert!(b.tokens >= typical);
    }
}

#[test]
fn escapes_whitespace_and_key_order_change_nothing() {
    let plain = r#"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/a.png"}}]}]}"#;
    let escaped = r#"{ "model" : "m" , "messages" : [ { "content" : [ { "image_\u0075rl" : { "url" : "https://x/a.png" } , "type" : "\u0069mage_url" } ] , "role" : "user" } ] }"#;
    let a = raw(plain, Dialect::Chat);
    let b = raw(escaped, Dialect::Chat);
    assert_eq!(a, b);
    assert!(a.tokens >= IMAGE_TOKENS, "{a:?}");
    // An escaped MCP connector is seen as one.
    let mcp = r#"{"model":"c","max_tokens":5,"mcp_\u0073ervers":[{"type":"url","url":"https://m"}],"messages":[{"role":"user","content":"hi"}]}"#;
    assert!(raw(mcp, Dialect::Messages).unbounded.is_some());
}

#[test]
fn numbers_literals_and_keys_count_as_text() {
    let values: Vec<i64> = (0..30_000).collect();
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "pick"}],
        "tools": [{"type": "function", "function": {"name": "f",
            "parameters": {"type": "object", "properties": {"n": {"type": "integer", "enum": values}}}}}]});
    let text = serde_json::to_string(&values).unwrap();
    let b = chat(&body);
    // Each element: its digits and a separator (`a | b`) of up to three tokens.
    assert!(
        b.tokens >= text.len() as i64 + 2 * 30_000,
        "{} for {} bytes",
        b.tokens,
        text.len()
    );
    // A function output given as an object of 60,000 numbers is a 240,000-character
    // tool message once stringified: the bound is at least that.
    let numbers: serde_json::Map<String, Value> =
        (0..60_000).map(|i| (format!("{i}"), json!(i))).collect();
    let output = Value::Object(numbers);
    let stringified = output.to_string().len() as i64;
    let body = json!({"model": "m", "input": [
        {"type": "function_call_output", "call_id": "c", "output": output}]});
    let b = prompt_bound(body.to_string().as_bytes(), reader(Dialect::Responses, "m")).unwrap();
    assert!(b.tokens >= stringified, "{} < {stringified}", b.tokens);
    let literals = json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "x": [true, false, null, 1.5e300, -0.000001]});
    assert!(
        chat(&literals).tokens
            > chat(&json!({"model": "m", "messages": [{"role": "user", "content": "x"}]})).tokens
                + 30
    );
}

#[test]
fn the_parsed_walk_agrees_with_the_scan() {
    // A body with tools goes through the parsed walk: it must price text as the scan does.
    let base = json!({"model": "m", "messages": [{"role": "user", "content": "a \"b\" c\n"}],
        "n": 12, "temperature": 0.7, "stop": null});
    let mut with_tools = base.clone();
    with_tools["tools"] = json!([]);
    let scanned = chat(&base).tokens;
    let walked = chat(&with_tools).tokens;
    let tools_key = (escaped_len("tools") + 3 + 2 * SYNTAX_TOKENS) as i64;
    assert_eq!(walked, scanned + tools_key);
}

#[test]
fn duplicate_priced_keys_are_refused() {
    let body = r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","type":"image_url","image_url":{"url":"u"}}]}]}"#;
    assert!(prompt_bound(body.as_bytes(), reader(Dialect::Chat, "m")).is_err());
    let body = r#"{"model":"m","background":false,"background":true,"input":"x"}"#;
    assert!(prompt_bound(body.as_bytes(), reader(Dialect::Responses, "m")).is_err());
}

#[test]
fn images_are_priced_for_the_serving_model() {
    let body = json!({"model": "alias", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}]});
    let bytes = body.to_string();
    let small = prompt_bound(bytes.as_bytes(), reader(Dialect::Chat, "gpt-4o")).unwrap();
    let mini = prompt_bound(bytes.as_bytes(), reader(Dialect::Chat, "gpt-4o-mini")).unwrap();
    assert!(small.tokens >= IMAGE_TOKENS && small.tokens < IMAGE_TOKENS_4O_MINI);
    assert!(mini.tokens >= IMAGE_TOKENS_4O_MINI);
    // A huge base64 image costs its bound, not its bytes.
    let data = "A".repeat(1_000_000);
    let body = json!({"model": "c", "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}]}]});
    assert!(raw(&body.to_string(), Dialect::Messages).tokens < IMAGE_TOKENS + 200);
}

#[test]
fn documents_by_page_and_unbounded_content_reported() {
    use base64::Engine;
    let pdf = b"%PDF-1.4 1 0 obj <</Type /Pages /Count 2>> 2 0 obj <</Type /Page>> 3 0 obj <</Type\n/Page /Parent 1 0 R>>";
    let data = base64::engine::general_purpose::STANDARD.encode(pdf);
    let body = json!({"model": "c", "messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": data}}]}]});
    let b = raw(&body.to_string(), Dialect::Messages);
    assert!(
        b.tokens >= 2 * PDF_PAGE_TOKENS && b.unbounded.is_none(),
        "{b:?}"
    );
    let url = json!({"model": "c", "messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "url", "url": "https://x/y.pdf"}}]}]});
    assert!(raw(&url.to_string(), Dialect::Messages).unbounded.is_some());
    let zip = base64::engine::general_purpose::STANDARD.encode(b"PK\x03\x04rest");
    let docx = json!({"model": "m", "input": [{"role": "user", "content": [
        {"type": "input_file", "filename": "a.docx", "file_data": zip}]}]});
    assert!(raw(&docx.to_string(), Dialect::Responses)
        .unbounded
        .is_some());
}

#[test]
fn server_tools_at_their_bound() {
    let search = r#"{"model":"c","tools":[{"type":"web_search_20250305","name":"web_search","max_uses":2}],"messages":[]}"#;
    let b = raw(search, Dialect::Messages);
    assert!(b.tokens >= 2 * WEB_SEARCH_TOKENS && b.unbounded.is_none());
    let open = r#"{"model":"c","tools":[{"type":"web_search_20250305","name":"web_search"}],"messages":[]}"#;
    assert!(raw(open, Dialect::Messages).unbounded.is_some());
    let code = r#"{"model":"c","tools":[{"type":"code_execution_20250825","name":"code_execution"}],"messages":[]}"#;
    assert!(raw(code, Dialect::Messages).unbounded.is_some());
    // OpenAI's hosted tools: web search needs max_tool_calls, the rest has no bound;
    // an Anthropic-style max_uses on OpenAI's tool means nothing there.
    for kind in ["web_search", "web_search_preview", "web_search_2025_08_26"] {
        let open =
            format!(r#"{{"model":"m","input":"x","tools":[{{"type":"{kind}","max_uses":1}}]}}"#);
        assert!(raw(&open, Dialect::Responses).unbounded.is_some(), "{kind}");
        let capped = format!(
            r#"{{"model":"m","input":"x","max_tool_calls":3,"tools":[{{"type":"{kind}"}}]}}"#
        );
        let b = raw(&capped, Dialect::Responses);
        assert!(
            b.unbounded.is_none() && b.tokens >= 3 * WEB_SEARCH_TOKENS,
            "{kind}"
        );
    }
    for kind in ["file_search", "code_interpreter", "mcp", "image_generation"] {
        let body = format!(r#"{{"model":"m","input":"x","tools":[{{"type":"{kind}"}}]}}"#);
        assert!(raw(&body, Dialect::Responses).unbounded.is_some(), "{kind}");
    }
    let function =
        r#"{"model":"m","input":"x","tools":[{"type":"function","name":"f","parameters":{}}]}"#;
    assert!(raw(function, Dialect::Responses).unbounded.is_none());
}

#[test]
fn native_responses_fields_the_gateway_cannot_meter() {
    for body in [
        r#"{"model":"m","input":"x","background":true}"#,
        r#"{"model":"m","input":"x","conversation":"conv_1"}"#,
        r#"{"model":"m","input":"x","prompt":{"id":"pmpt_1"}}"#,
        r#"{"model":"m","input":[{"type":"item_reference","id":"msg_1"}]}"#,
    ] {
        let b = raw(body, Dialect::Responses);
        assert!(b.unbounded.is_some(), "{body}");
    }
    assert!(raw(
        r#"{"model":"m","input":"x","background":false,"prompt":null}"#,
        Dialect::Responses
    )
    .unbounded
    .is_none());
}
