//! Issue 30: billing that matches the invoice. For each provider type and dialect pair,
//! whole and streamed, the mock's `-billed` models answer with every class their provider
//! bills (cache reads, 5-minute and 1-hour cache writes, reasoning, web searches, the
//! service tier); the logged cost is checked to the nano-dollar against a figure computed
//! by hand from the price list. And LiteLLM's price list imports.

use awc::http::StatusCode;
use serde_json::{json, Value};

use crate::harness::*;

async fn put_price(gw: &Gateway, body: Value) {
    let (status, answer) = gw.admin_send("PUT", "/admin/model-prices", &body).await;
    assert_eq!(status, 200, "{answer}");
}

/// The price `claude_cost` computes with (1-hour writes left to the Anthropic default).
async fn claude_price(gw: &Gateway) {
    put_price(
        gw,
        json!({"model": "claude-billed", "input_per_million": 3.0,
        "output_per_million": 15.0, "cached_input_per_million": 0.3,
        "cache_write_per_million": 3.75, "per_request": {"web_search": 0.01}}),
    )
    .await;
}

/// Claude: $3 in, $15 out, reads $0.30, 5-minute writes $3.75, 1-hour writes at 2 × input
/// (not given: the Anthropic default), $0.01 a web search. Usage: 1,000 fresh, 2,000 read,
/// 4,000 + 6,000 written, 3 searches.
fn claude_cost(completion: i64) -> i64 {
    1000 * 3000 + 2000 * 300 + 4000 * 3750 + 6000 * 6000 + 30_000_000 + completion * 15_000
}

/// gpt: $2 in, $8 out, cached $0.50, audio in $40, flex at half price. Usage: 12,000
/// prompt of which 2,000 cached and 1,000 audio; reasoning inside the completion.
fn gpt_cost(completion: i64) -> i64 {
    (9000 * 2000 + 1000 * 40_000 + 2000 * 500 + completion * 8000) / 2
}

/// The same with one web search ($0.025 a call): a search model's call searches.
fn gpt_search_cost(completion: i64) -> i64 {
    gpt_cost(completion) + 25_000_000
}

/// native: $1.25 in, $10 out, cached $0.125, priority at 2 ×, $0.01 a web search. Usage:
/// 12,000 input of which 2,000 cached, two web_search_call items.
fn native_cost(completion: i64) -> i64 {
    (10_000 * 1250 + 2000 * 125 + completion * 10_000) * 2 + 20_000_000
}

async fn responses_stream(gw: &Gateway, token: &str, body: &Value) {
    let body = serde_json::to_vec(body).unwrap();
    let url = gw.url("/v1/responses");
    let (status, text) = send_raw("POST", &url, Some(token), Some("application/json"), body).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&text));
}

async fn chat_stream(gw: &Gateway, token: &str, body: &Value) -> String {
    let (status, text) = gw.chat_text(token, body).await;
    assert_eq!(status, 200, "{text}");
    text
}

#[actix_web::test]
async fn every_class_is_billed_as_the_provider_bills_it() {
    for backend in Backend::all().await {
        let (_mock, gw) = three_providers(&backend).await;
        claude_price(&gw).await;
        put_price(
            &gw,
            json!({"model": "gpt-billed", "input_per_million": 2.0,
            "output_per_million": 8.0, "cached_input_per_million": 0.5,
            "audio_input_per_million": 40.0, "per_request": {"web_search": 0.025},
            "service_tiers": {"flex": 0.5}}),
        )
        .await;
        put_price(
            &gw,
            json!({"model": "native-billed", "input_per_million": 1.25,
            "output_per_million": 10.0, "cached_input_per_million": 0.125,
            "service_tiers": {"priority": 2.0}, "per_request": {"web_search": 0.01}}),
        )
        .await;
        let (id, token) = token_with(&gw, json!({})).await;
        type Cost = fn(i64) -> i64;
        let mut calls: Vec<(&str, Cost)> = Vec::new();

        // Anthropic upstream: pass-through, and translated from Chat and Responses.
        let messages = json!({"model": "claude-billed", "max_tokens": 50,
            "messages": [{"role": "user", "content": "hi"}]});
        let (status, answer) = anthropic_call(&gw, "/v1/messages", &token, &messages).await;
        assert_eq!(status, 200, "{answer}");
        calls.push(("messages whole", claude_cost));
        let mut streamed = messages.clone();
        streamed["stream"] = json!(true);
        let (status, _) = anthropic_call(&gw, "/v1/messages", &token, &streamed).await;
        assert_eq!(status, 200);
        calls.push(("messages streamed", claude_cost));
        let chat =
            json!({"model": "claude-billed", "messages": [{"role": "user", "content": "hi"}]});
        let (status, answer) = gw.post("/v1/chat/completions", &token, &chat).await;
        assert_eq!(status, 200, "{answer}");
        calls.push(("chat -> messages whole", claude_cost));
        let mut chat_streamed = chat.clone();
        chat_streamed["stream"] = json!(true);
        chat_stream(&gw, &token, &chat_streamed).await;
        calls.push(("chat -> messages streamed", claude_cost));
        let resp = json!({"model": "claude-billed", "input": "hi", "store": false});
        let (status, answer) = gw.post("/v1/responses", &token, &resp).await;
        assert_eq!(status, 200, "{answer}");
        calls.push(("responses -> messages whole", claude_cost));

        // OpenAI-type upstream: pass-through, and translated from Messages and Responses.
        let chat = json!({"model": "gpt-billed", "messages": [{"role": "user", "content": "hi"}]});
        let (status, answer) = gw.post("/v1/chat/completions", &token, &chat).await;
        assert_eq!(status, 200, "{answer}");
        calls.push(("chat whole", gpt_cost));
        let mut chat_streamed = chat.clone();
        chat_streamed["stream"] = json!(true);
        chat_stream(&gw, &token, &chat_streamed).await;
        calls.push(("chat streamed", gpt_cost));
        let messages = json!({"model": "gpt-billed", "max_tokens": 50,
            "messages": [{"role": "user", "content": "hi"}]});
        let (status, answer) = anthropic_call(&gw, "/v1/messages", &token, &messages).await;
        assert_eq!(status, 200, "{answer}");
        calls.push(("messages -> chat whole", gpt_cost));
        let resp = json!({"model": "gpt-billed", "input": "hi", "store": false, "stream": true});
        responses_stream(&gw, &token, &resp).await;
        calls.push(("responses -> chat streamed", gpt_cost));
        let mut searching = chat.clone();
        searching["web_search_options"] = json!({"search_context_size": "medium"});
        let (status, answer) = gw.post("/v1/chat/completions", &token, &searching).await;
        assert_eq!(status, 200, "{answer}");
        calls.push(("chat with web_search_options", gpt_search_cost));

        // A provider that speaks the Responses API: passed through, whole and streamed.
        let resp = json!({"model": "native-billed", "input": "hi", "store": false});
        let (status, answer) = gw.post("/v1/responses", &token, &resp).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        calls.push(("responses native whole", native_cost));
        let mut streamed = resp.clone();
        streamed["stream"] = json!(true);
        responses_stream(&gw, &token, &streamed).await;
        calls.push(("responses native streamed", native_cost));

        let db = backend.connect().await;
        let mut rows = rows_of(&db, id, calls.len()).await;
        rows.reverse();
        for ((label, cost), row) in calls.iter().zip(&rows) {
            assert!(!row.usage_estimated, "{label}: {row:?}");
            assert_eq!(
                row.amount_nano,
                cost(row.completion_tokens),
                "{}: {label}: {row:?}",
                backend.label
            );
        }
        let claude = &rows[0];
        assert_eq!(
            (
                claude.cache_write_tokens,
                claude.cache_write_1h_tokens,
                claude.web_search_requests
            ),
            (10_000, 6000, 3)
        );
        assert_eq!(rows[5].service_tier.as_deref(), Some("flex"));
        assert_eq!(
            (rows[5].audio_input_tokens, rows[5].web_search_requests),
            (1000, 0)
        );
        assert_eq!(rows[9].web_search_requests, 1);
        assert_eq!(rows[10].service_tier.as_deref(), Some("priority"));
        assert_eq!(rows[10].web_search_requests, 2);
        backend.drop_database().await;
    }
}

#[actix_web::test]
async fn a_request_asking_for_an_hour_of_cache_reserves_at_that_price() {
    let backend = Backend::sqlite();
    let (_mock, gw) = three_providers(&backend).await;
    put_price(
        &gw,
        json!({"model": "claude-x", "input_per_million": 3.0,
        "output_per_million": 15.0, "cache_write_per_million": 3.75,
        "max_output_tokens": 100}),
    )
    .await;
    let text = "x".repeat(20_000);
    let body = |ttl: Option<&str>| {
        let mut cache = json!({"type": "ephemeral"});
        if let Some(t) = ttl {
            cache["ttl"] = json!(t);
        }
        json!({"model": "claude-x", "max_tokens": 10, "messages": [{"role": "user",
            "content": [{"type": "text", "text": text, "cache_control": cache}]}]})
    };
    // ~20,100 prompt tokens: $0.0603 at input, $0.0754 as 5-minute writes, $0.1206 as
    // 1-hour writes (2 × input). A $0.10 budget pays for the first two, not the third.
    let (_, token) = token_with(&gw, json!({"max_amount": 0.10})).await;
    let (status, answer) = anthropic_call(&gw, "/v1/messages", &token, &body(None)).await;
    assert_eq!(status, 200, "{answer}");
    let (_, token) = token_with(&gw, json!({"max_amount": 0.10})).await;
    let (status, answer) = anthropic_call(&gw, "/v1/messages", &token, &body(Some("1h"))).await;
    assert_eq!(status, 429, "{answer}");
}

#[actix_web::test]
async fn the_litellm_price_list_imports() {
    let backend = Backend::sqlite();
    let gw = Gateway::start(&backend, &[]);
    let list: Value =
        serde_json::from_str(include_str!("../../data/litellm_excerpt.json")).unwrap();
    let (status, result) = gw
        .admin_send("POST", "/admin/model-prices/import", &list)
        .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["skipped"], 3, "{result}");
    assert_eq!(
        result["created"].as_u64().unwrap() + result["updated"].as_u64().unwrap(),
        8,
        "{result}"
    );
    let (_, prices) = gw
        .admin_send("GET", "/admin/model-prices", &Value::Null)
        .await;
    let find = |m: &str| {
        prices["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["model"] == m && p["provider"].is_null())
            .cloned()
            .unwrap_or_else(|| panic!("{m} missing"))
    };
    let sonnet = find("claude-sonnet-4-5");
    assert_eq!(
        sonnet["cache_write_1h_per_million"], 6.0,
        "2 × input: {sonnet}"
    );
    assert_eq!(sonnet["tiers"][0]["above_input_tokens"], 200_000);
    assert_eq!(sonnet["per_request"]["web_search"], 0.01);
    assert_eq!(find("claude-opus-4-1")["cache_write_1h_per_million"], 30.0);
    let gpt5 = find("gpt-5");
    assert_eq!(gpt5["service_tiers"]["flex"], 0.5, "{gpt5}");
    assert_eq!(gpt5["service_tiers"]["priority"], 2.0);
    assert_eq!(gpt5["max_output_tokens"], 128_000);
    let audio = find("gpt-4o-audio-preview");
    assert_eq!(
        (
            audio["audio_input_per_million"].as_f64(),
            audio["audio_output_per_million"].as_f64()
        ),
        (Some(40.0), Some(80.0))
    );
    find("deepseek-chat");
    find("glm-4.6");
    // The same file through the command line: everything is there, so all updated.
    let path = backend.dir.path().join("prices.json");
    std::fs::write(&path, list.to_string()).unwrap();
    let (ok, stdout, stderr) = gw.cli(&backend, &["prices", "import", path.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let result: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (result["created"].as_u64(), result["updated"].as_u64()),
        (Some(0), Some(8))
    );
}

#[actix_web::test]
async fn a_cut_stream_keeps_the_classes_already_reported() {
    let backend = Backend::sqlite();
    let (mock, gw) = three_providers(&backend).await;
    claude_price(&gw).await;
    let (id, token) = token_with(&gw, json!({})).await;
    // Anthropic reports the cache classes in `message_start`; the stream is cut before
    // `message_delta` (which would carry the output and the searches).
    mock.fault(json!({"model": "claude-billed", "cut_after_chunks": 4, "times": 1}))
        .await;
    let body = json!({"model": "claude-billed", "max_tokens": 50, "stream": true,
        "messages": [{"role": "user", "content": "hi"}]});
    let (status, _) = anthropic_call(&gw, "/v1/messages", &token, &body).await;
    assert_eq!(status, 200);
    let db = backend.connect().await;
    let row = rows_of(&db, id, 1).await.remove(0);
    assert_eq!(
        (
            row.cached_tokens,
            row.cache_write_tokens,
            row.cache_write_1h_tokens
        ),
        (2000, 10_000, 6000),
        "{row:?}"
    );
    let tokens = 1000 * 3000 + 2000 * 300 + 4000 * 3750 + 6000 * 6000;
    assert_eq!(
        row.amount_nano,
        tokens + row.completion_tokens * 15_000,
        "{row:?}"
    );
}
