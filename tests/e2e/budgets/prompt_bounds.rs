//! The prompt reservation is an upper bound of what the upstream counts (contract section 3,
//! "Budgets"): digits and images cannot overshoot a budget, and content without a bound is
//! refused to budgeted tokens.

use sea_orm::DatabaseConnection;
use serde_json::{json, Value};

use crate::harness::*;

/// Settles `calls` concurrent calls of `body` on a fresh token with `limits`; the tokens the
/// token recorded.
async fn burst_usage(
    gw: &Gateway,
    db: &DatabaseConnection,
    limits: Value,
    body: &Value,
    calls: usize,
) -> i64 {
    let (id, token) = token_with(gw, limits).await;
    let statuses = futures::future::join_all(
        (0..calls).map(|_| gw.post("/v1/chat/completions", &token, body)),
    )
    .await;
    let admitted = statuses.iter().filter(|(s, _)| *s == 200).count();
    assert!(admitted >= 1, "{statuses:?}");
    rows_of(db, id, calls)
        .await
        .iter()
        .map(|r| r.total_tokens)
        .sum()
}

#[actix_web::test]
async fn the_prompt_reservation_is_an_upper_bound() {
    let backend = Backend::sqlite();
    let (_mock, gw) = gateway_with_mock(&backend, &[], json!(["gpt-4o"]), &["sk-bound-0001"]).await;
    price(&gw, "gpt-4o", Some(4096)).await;
    let db = backend.connect().await;
    // Digits: the upstream counts one token a character.
    let mut digits = chat("gpt-4o");
    digits["messages"][0]["content"] = json!("1234567890".repeat(200));
    digits["max_tokens"] = json!(10);
    digits["mock"] = json!({"count": "chars", "default_tokens": 10});
    let used = burst_usage(&gw, &db, json!({"max_tokens": 6000}), &digits, 8).await;
    assert!(
        used <= 6000,
        "{used} tokens recorded on a 6000-token budget"
    );

    // Images by URL: the upstream counts each at 1,500 tokens.
    let mut image = chat("gpt-4o");
    image["messages"][0]["content"] = json!([{"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]);
    image["max_tokens"] = json!(10);
    image["mock"] = json!({"image_tokens": 1500, "default_tokens": 10});
    let used = burst_usage(&gw, &db, json!({"max_tokens": 5000}), &image, 5).await;
    assert!(
        used <= 5000,
        "{used} tokens recorded on a 5000-token budget"
    );
}

#[actix_web::test]
async fn content_without_a_bound_is_refused_to_budgeted_tokens() {
    let backend = Backend::sqlite();
    let mock = Mock::start();
    let gw = Gateway::start(&backend, &[]);
    add_claude(&gw, &mock, "sk-ant-bound-0001").await;
    let body = json!({"model": "claude-x", "max_tokens": 100,
        "messages": [{"role": "user", "content": [
            {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}},
            {"type": "text", "text": "Summarise."}]}]});
    let (_, budgeted) = token_with(&gw, json!({"max_amount": 1.0})).await;
    price(&gw, "claude-x", Some(4096)).await;
    let (status, err) = anthropic_call(&gw, "/v1/messages", &budgeted, &body).await;
    assert_eq!(status, 400, "{err}");
    assert!(
        err["error"]["message"].as_str().unwrap().contains("URL"),
        "{err}"
    );
    let mut code = body.clone();
    code["messages"][0]["content"] = json!("Run this.");
    code["tools"] = json!([{"type": "code_execution_20250825", "name": "code_execution"}]);
    let (status, err) = anthropic_call(&gw, "/v1/messages", &budgeted, &code).await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(mock.stats().await["total"], 0);
    // Tokens without a budget are not limited by it.
    let (_, open) = token_with(&gw, json!({})).await;
    let (status, answer) = anthropic_call(&gw, "/v1/messages", &open, &body).await;
    assert_eq!(status, 200, "{answer}");
}
