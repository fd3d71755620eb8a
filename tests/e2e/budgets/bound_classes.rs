//! Issue 24: a budgeted token cannot get past its budget by writing the same request
//! differently — escapes, numbers, rare scripts, PDFs however written, images behind a
//! redirect — and native pass-through refuses what the gateway cannot meter. The mock's
//! `-bytes` models count what a byte-level tokenizer reading the whole request could spend
//! (every string, key and number at a token a byte; images and PDF pages as providers
//! price them), through translation too.

use base64::Engine;
use serde_json::{json, Value};

use crate::harness::*;

const BUDGET: i64 = 3_000;

/// Calls `path` with `body` (raw JSON text) until refused, at most `calls` times; the
/// tokens the token recorded, and whether the last call was refused before the upstream.
async fn spend(gw: &Gateway, token: &str, path: &str, body: &str, calls: usize) -> (i64, Vec<u16>) {
    let mut statuses = Vec::new();
    for _ in 0..calls {
        let (status, _) = if path == "/v1/messages" {
            let value: Value = serde_json::from_str(body).unwrap();
            let (s, v) = anthropic_call(gw, path, token, &value).await;
            (awc::http::StatusCode::from_u16(s).unwrap(), v)
        } else {
            let (s, bytes) = send_raw(
                "POST",
                &gw.url(path),
                Some(token),
                Some("application/json"),
                body.as_bytes().to_vec(),
            )
            .await;
            (s, Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        statuses.push(status.as_u16());
        if status != 200 {
            break;
        }
    }
    let (_, balance) = gw.get("/v1/token/balance", token).await;
    let used = balance["usage"]["total_tokens"].as_i64().unwrap();
    (used, statuses)
}

fn assert_within(label: &str, used: i64, budget: i64, statuses: &[u16]) {
    assert!(
        used <= budget,
        "{label}: {used} tokens recorded on a {budget}-token budget ({statuses:?})"
    );
    assert!(
        statuses.iter().all(|s| matches!(s, 200 | 400 | 429)),
        "{label}: {statuses:?}"
    );
}

/// A PDF of `pages` pages whose page objects are written `/Type\n/Page`.
fn pdf(pages: usize) -> String {
    let mut text = String::from("%PDF-1.7\n1 0 obj <</Type\n/Pages /Count 0>> endobj\n");
    for i in 0..pages {
        text.push_str(&format!(
            "{} 0 obj <</Type\n/Page /Parent 1 0 R>> endobj\n",
            i + 2
        ));
    }
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[actix_web::test]
async fn every_way_of_writing_a_request_stays_inside_the_budget() {
    let backend = Backend::sqlite();
    let (mock, gw) = three_providers(&backend).await;
    for model in [
        "gpt-4o-bytes",
        "gpt-4o-mini-bytes",
        "claude-bytes",
        "native-bytes",
    ] {
        price(&gw, model, Some(4096)).await;
    }
    let token = || async { token_with(&gw, json!({"max_tokens": BUDGET})).await.1 };

    // Three images behind escaped markers (serde and every upstream read `image_url`).
    let image = r#"{"type":"\u0069mage_url","\u0069mage_url":{"url":"https://example.com/a.png"}}"#;
    let body = format!(
        r#"{{"model":"gpt-4o-bytes","max_tokens":10,"messages":[{{"role":"user","content":[{image},{image},{image}]}}]}}"#
    );
    let (used, statuses) = spend(&gw, &token().await, "/v1/chat/completions", &body, 5).await;
    assert_within("escaped images", used, BUDGET, &statuses);

    // A tool schema with an enum of 30,000 integers.
    let values: Vec<i64> = (0..30_000).collect();
    let body = json!({"model": "gpt-4o-bytes", "max_tokens": 10,
        "messages": [{"role": "user", "content": "pick one"}],
        "tools": [{"type": "function", "function": {"name": "pick", "parameters":
            {"type": "object", "properties": {"n": {"type": "integer", "enum": values}}}}}]});
    let (used, statuses) = spend(
        &gw,
        &token().await,
        "/v1/chat/completions",
        &body.to_string(),
        5,
    )
    .await;
    assert_within("enum schema", used, BUDGET, &statuses);

    // A Responses function output given as an object of 60,000 numbers (a 240,000-character
    // tool message once translated to Chat Completions).
    let numbers: serde_json::Map<String, Value> =
        (0..60_000).map(|i| (format!("{i}"), json!(i))).collect();
    let body = json!({"model": "gpt-4o-bytes", "max_output_tokens": 16, "store": false, "input": [
        {"role": "user", "content": "go"},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": Value::Object(numbers)}]});
    let (used, statuses) = spend(&gw, &token().await, "/v1/responses", &body.to_string(), 5).await;
    assert_within("numbers as tool output", used, BUDGET, &statuses);

    // Scripts whose characters a tokenizer spends a token a byte on, random mixed-case
    // ASCII, letter–digit pairs, base64.
    let texts = [
        ("NKo", "ߊߋߌߍߎߏߐߑߒߓ".repeat(60)),
        ("Syriac", "ܐܒܓܕܗܘܙܚܛܝ".repeat(60)),
        ("Thaana", "ހށނރބޅކއވމ".repeat(60)),
        ("mixed case", "qZxWvKpJmLbNcHgF".repeat(70)),
        ("letter-digit", "a1b2c3d4e5f6g7h8".repeat(70)),
        (
            "base64",
            base64::engine::general_purpose::STANDARD.encode([0xA7u8; 800]),
        ),
    ];
    for (label, text) in texts {
        let body = json!({"model": "gpt-4o-bytes", "max_tokens": 10,
            "messages": [{"role": "user", "content": text}]});
        let (used, statuses) = spend(
            &gw,
            &token().await,
            "/v1/chat/completions",
            &body.to_string(),
            20,
        )
        .await;
        assert_within(label, used, BUDGET, &statuses);
        assert!(
            statuses[0] == 200,
            "{label}: a call that fits is admitted ({statuses:?})"
        );
    }

    // A 40-page PDF written `/Type\n/Page`, to Claude.
    let body = json!({"model": "claude-bytes", "max_tokens": 10, "messages": [{"role": "user",
        "content": [{"type": "document", "source": {"type": "base64",
            "media_type": "application/pdf", "data": pdf(40)}},
            {"type": "text", "text": "Summarise."}]}]});
    let (used, statuses) = spend(&gw, &token().await, "/v1/messages", &body.to_string(), 5).await;
    assert_within("PDF pages", used, BUDGET, &statuses);

    // An image on a name redirected to gpt-4o-mini (48,200 tokens an image there).
    let (status, _) = gw
        .admin_send(
            "PUT",
            "/admin/model-redirects",
            &json!({"source": "cheap-vision", "target": "gpt-4o-mini-bytes"}),
        )
        .await;
    assert_eq!(status, 200);
    let body = json!({"model": "cheap-vision", "max_tokens": 10, "messages": [{"role": "user",
        "content": [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}]});
    let (_, rich) = token_with(&gw, json!({"max_tokens": 60_000})).await;
    let (used, statuses) = spend(&gw, &rich, "/v1/chat/completions", &body.to_string(), 5).await;
    assert_within("redirected image", used, 60_000, &statuses);
    assert_eq!(statuses[0], 200, "one image fits 60,000");
    drop(mock);
}

#[actix_web::test]
async fn native_pass_through_refuses_what_it_cannot_meter() {
    let backend = Backend::sqlite();
    let (mock, gw) = three_providers(&backend).await;
    price(&gw, "native-model", Some(4096)).await;
    price(&gw, "claude-model", Some(4096)).await;
    let (_, budgeted) = token_with(&gw, json!({"max_amount": 1.0})).await;
    let (_, open) = token_with(&gw, json!({})).await;
    let base = json!({"model": "native-model", "input": "hi", "store": false});
    let with = |field: &str, value: Value| {
        let mut body = base.clone();
        body[field] = value;
        body
    };
    let cases = [
        ("background", with("background", json!(true))),
        ("conversation", with("conversation", json!("conv_123"))),
        ("prompt", with("prompt", json!({"id": "pmpt_123"}))),
        (
            "item_reference",
            with("input", json!([{"type": "item_reference", "id": "msg_1"}])),
        ),
        ("web_search", with("tools", json!([{"type": "web_search"}]))),
        (
            "file_search",
            with(
                "tools",
                json!([{"type": "file_search", "vector_store_ids": ["vs_1"]}]),
            ),
        ),
        (
            "mcp",
            with(
                "tools",
                json!([{"type": "mcp", "server_label": "x", "server_url": "https://m"}]),
            ),
        ),
        (
            "code_interpreter",
            with(
                "tools",
                json!([{"type": "code_interpreter", "container": {"type": "auto"}}]),
            ),
        ),
    ];
    let before = mock.stats().await["total"].as_u64().unwrap();
    for (field, body) in &cases {
        let (status, err) = gw.post("/v1/responses", &budgeted, body).await;
        assert_eq!(status, 400, "{field}: {err}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{field}: {message}");
    }
    assert_eq!(
        mock.stats().await["total"].as_u64().unwrap(),
        before,
        "nothing went upstream"
    );
    // A web search with a bound (max_tool_calls) is admitted; so is anything for a token
    // without a budget.
    let mut bounded = with("tools", json!([{"type": "web_search"}]));
    bounded["max_tool_calls"] = json!(1);
    let (_, rich) = token_with(&gw, json!({"max_tokens": 1_000_000})).await;
    let (status, answer) = gw.post("/v1/responses", &rich, &bounded).await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = gw.post("/v1/responses", &open, &cases[0].1).await;
    assert_eq!(status, 200, "{answer}");

    // An MCP connector hidden behind an escape is still one.
    let raw = r#"{"model":"claude-model","max_tokens":50,"mcp_\u0073ervers":[{"type":"url","url":"https://m","name":"m"}],"messages":[{"role":"user","content":"hi"}]}"#;
    let body: Value = serde_json::from_str(raw).unwrap();
    let (status, err) = anthropic_call(&gw, "/v1/messages", &budgeted, &body).await;
    assert_eq!(status, 400, "{err}");
    // The same object naming a priced key twice is ambiguous: refused for everyone.
    let twice = r#"{"model":"native-model","store":false,"input":[{"role":"user","content":[{"type":"input_text","type":"input_image","image_url":"https://x/a.png","text":"hi"}]}]}"#;
    let (status, bytes) = send_raw(
        "POST",
        &gw.url("/v1/responses"),
        Some(&open),
        Some("application/json"),
        twice.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&bytes));
}

#[actix_web::test]
async fn limits_come_before_costly_work() {
    let backend = Backend::sqlite();
    let (_mock, gw) = three_providers(&backend).await;
    let (_, token) = token_with(&gw, json!({"rpm": 1})).await;
    let small = json!({"model": "gpt-4o", "input": "hi", "store": false});
    let (status, answer) = gw.post("/v1/responses", &token, &small).await;
    assert_eq!(status, 200, "{answer}");
    // Over its minute, a 7 MB body continuing a response that does not exist is refused
    // for the minute (429), not looked up (404): nothing costly was done with it.
    let big = "x".repeat(7 << 20);
    let body = json!({"model": "gpt-4o", "previous_response_id": "resp_missing",
        "input": [{"role": "user", "content": big}]});
    let started = std::time::Instant::now();
    let (status, err) = gw.post("/v1/responses", &token, &body).await;
    let large_refusal = started.elapsed();
    assert_eq!(status, 429, "{err}");
    let started = std::time::Instant::now();
    let (status, _) = gw.post("/v1/responses", &token, &small).await;
    let small_refusal = started.elapsed();
    assert_eq!(status, 429);
    println!("refused: 7 MB body in {large_refusal:?}, small body in {small_refusal:?}");
    // A model the token may not use is refused the same way, before the chain.
    let (_, narrow) = token_with(&gw, json!({"allowed_models": ["claude-x"]})).await;
    let (status, err) = gw.post("/v1/responses", &narrow, &body).await;
    assert_eq!(status, 403, "{err}");
}

#[actix_web::test]
async fn large_bodies_of_small_items_stay_bounded_in_memory() {
    let item = json!({"role": "user", "content": "x"});
    let items: Vec<Value> = std::iter::repeat_n(item, 250_000).collect();
    let body = json!({"model": "gpt-4o", "store": false, "max_output_tokens": 5, "input": items});
    let text = body.to_string();
    assert!(
        text.len() < 8 << 20 && text.len() > 7 << 20,
        "{}",
        text.len()
    );
    let backend = Backend::sqlite();
    let (_mock, gw) = three_providers(&backend).await;
    let (_, open) = token_with(&gw, json!({})).await;
    let small = json!({"model": "gpt-4o", "input": "hi", "store": false});
    let (status, _) = gw.post("/v1/responses", &open, &small).await;
    assert_eq!(status, 200);
    // One goes through to the upstream (decoded, bounded, translated, sent, answered)...
    let url = gw.url("/v1/responses");
    let before = gw.peak_rss_kib();
    let (status, bytes) = send_raw(
        "POST",
        &url,
        Some(&open),
        Some("application/json"),
        text.clone().into_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    let one_mb = (gw.peak_rss_kib().saturating_sub(before)) / 1024;
    println!("peak RSS grew by {one_mb} MB for one 8 MB body of small items");
    assert!(one_mb < 200, "{one_mb} MB for one 8 MB body");
    // ... and eight at once are decoded and bounded (a budget then refuses them: the
    // upstream, a debug-build mock, is not what is measured here).
    let (_, budgeted) = token_with(&gw, json!({"max_tokens": 1000})).await;
    let before = gw.peak_rss_kib();
    let calls = (0..8).map(|_| {
        send_raw(
            "POST",
            &url,
            Some(&budgeted),
            Some("application/json"),
            text.clone().into_bytes(),
        )
    });
    let results = futures::future::join_all(calls).await;
    for (status, bytes) in &results {
        assert_eq!(*status, 429, "{}", String::from_utf8_lossy(bytes));
    }
    let grown_mb = (gw.peak_rss_kib().saturating_sub(before)) / 1024;
    println!("peak RSS grew by {grown_mb} MB for eight 8 MB bodies of small items");
    assert!(grown_mb < 400, "{grown_mb} MB for eight 8 MB bodies");
}

#[actix_web::test]
async fn made_up_methods_do_not_grow_the_metrics() {
    let backend = Backend::sqlite();
    let gw = Gateway::start(&backend, &[]);
    let lines = || async {
        let (_, text) = send_raw("GET", &gw.url("/metrics"), None, None, Vec::new()).await;
        String::from_utf8(text).unwrap()
    };
    // The standard methods' series exist first (a GET, a POST and an unknown method).
    send_raw("GET", &gw.url("/v1/models"), None, None, Vec::new()).await;
    send_raw("POST", &gw.url("/v1/models"), None, None, Vec::new()).await;
    send_raw("M0000X", &gw.url("/v1/models"), None, None, Vec::new()).await;
    lines().await;
    let before = lines().await.lines().count();
    for i in 0..120 {
        let method = format!("M{i:04}X");
        send_raw(&method, &gw.url("/v1/models"), None, None, Vec::new()).await;
    }
    let long = "M".repeat(20_000);
    send_raw(&long, &gw.url("/v1/models"), None, None, Vec::new()).await;
    let after = lines().await;
    assert!(!after.contains("M0001X") && !after.contains(&long[..100]));
    assert!(
        after.lines().count() <= before,
        "{} lines before, {} after",
        before,
        after.lines().count()
    );
}
