//! Budgets are hard limits however a client calls (contract section 3, "Budgets"), answers
//! without usage are billed on estimates, and prices fall back only across versions.

use entity::{request_log, token};
use futures::future::join_all;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::{json, Value};

use crate::harness::*;

/// The mock's "model" writes this much unless capped: as much as it is allowed.
const MODEL_MAX: u64 = 4096;

/// Every way item 2 of the hardening issue lists, as chat bodies.
fn variants() -> Vec<Value> {
    let base = |extra: Value| {
        let mut body = chat("gpt-4o-mini");
        body["mock"] = json!({"default_tokens": MODEL_MAX});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    vec![
        base(json!({})),
        base(json!({"max_tokens": 50, "max_completion_tokens": 3000})),
        base(json!({"max_completion_tokens": 100_000})),
        base(json!({"n": 3})),
        base(json!({"stream": true})),
        base(json!({"stream": true, "n": 2, "stream_options": {"include_usage": true}})),
        base(json!({"max_tokens": 10_000_000, "n": 128})),
    ]
}

async fn call(gw: &Gateway, token: &str, body: &Value) -> u16 {
    let (status, text) = gw.chat_text(token, body).await;
    assert!(
        status == 200 || status == 429,
        "{status}: {}",
        &text[..text.len().min(300)]
    );
    if status == 429 {
        assert!(text.contains("insufficient_quota"), "{text}");
    }
    status.as_u16()
}

/// Sequential calls cycling through the variants until the budget refuses; then 20 at once
/// on a fresh token. Returns the rows of both tokens.
async fn drain(gw: &Gateway, db: &DatabaseConnection, limits: Value) -> Vec<token::Model> {
    let mut rows = Vec::new();
    let (id, token) = token_with(gw, limits.clone()).await;
    let mut calls = 0;
    for body in variants().iter().cycle() {
        calls += 1;
        assert!(calls < 200, "the budget never ran out");
        if call(gw, &token, body).await == 429 {
            break;
        }
    }
    rows.push(settled_row(db, id, calls).await);

    let (id, token) = token_with(gw, limits).await;
    let all = variants();
    let burst = (0..20).map(|i| call(gw, &token, &all[i % all.len()]));
    let statuses = join_all(burst).await;
    assert!(statuses.contains(&200), "some calls are admitted");
    rows.push(settled_row(db, id, 20).await);
    rows
}

#[actix_web::test]
async fn budgets_are_hard_limits_however_the_client_calls() {
    for backend in Backend::all().await {
        let (_mock, gw) = gateway_with_mock(
            &backend,
            &[],
            json!(["gpt-4o-mini"]),
            &["sk-hard-budget-0001", "sk-hard-budget-0002"],
        )
        .await;
        price(&gw, "gpt-4o-mini", Some(MODEL_MAX)).await;
        let db = backend.connect().await;
        // The prompt estimate (request bytes / 4) is above the mock's own prompt count, so
        // its error is on the safe side here: the bound is the limit itself.
        for row in drain(&gw, &db, json!({"max_tokens": 1000})).await {
            assert!(
                row.total_tokens <= 1000,
                "{}: {} tokens used of 1000",
                backend.label,
                row.total_tokens
            );
            assert!(
                row.total_tokens > 500,
                "the budget was usable: {}",
                row.total_tokens
            );
        }
        // $0.002 at $1/$2 per million: 1000 output tokens' worth.
        for row in drain(&gw, &db, json!({"max_amount": 0.002})).await {
            assert!(
                row.amount_spent_nano <= 2_000_000,
                "{}: {} nano-USD spent of 2000000",
                backend.label,
                row.amount_spent_nano
            );
            assert!(
                row.amount_spent_nano > 1_000_000,
                "usable: {}",
                row.amount_spent_nano
            );
        }
        backend.drop_database().await;
    }
}

#[actix_web::test]
async fn caps_are_sent_only_when_the_budget_bites() {
    let backend = Backend::sqlite();
    let (mock, gw) = gateway_with_mock(
        &backend,
        &[],
        json!(["gpt-4o-mini", "unknown-model", "text-embedding-3-small"]),
        &["sk-cap-key-000001"],
    )
    .await;
    price(&gw, "gpt-4o-mini", Some(MODEL_MAX)).await;
    let mut body = chat("gpt-4o-mini");
    body["mock"] = json!({"default_tokens": 100});

    // Plenty left: the request goes upstream as the client sent it.
    let (_, rich) = token_with(&gw, json!({"max_tokens": 10_000_000})).await;
    let (status, answer) = gw.post("/v1/chat/completions", &rich, &body).await;
    assert_eq!(status, 200, "{answer}");
    let sent = mock.last_request().await["body"].clone();
    assert!(
        sent.get("max_tokens").is_none() && sent.get("max_completion_tokens").is_none(),
        "{sent}"
    );
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");

    // Little left: the allowance goes upstream and the answer ends with "length".
    // (The prompt's bound is ~140 tokens: every byte of the body as JSON text.)
    let (_, poor) = token_with(&gw, json!({"max_tokens": 200})).await;
    let (status, answer) = gw.post("/v1/chat/completions", &poor, &body).await;
    assert_eq!(status, 200, "{answer}");
    let sent = mock.last_request().await["body"].clone();
    let cap = sent["max_completion_tokens"]
        .as_i64()
        .expect("a cap was sent");
    assert!(cap > 0 && cap < 100, "{sent}");
    assert!(
        sent.get("max_tokens").is_none(),
        "OpenAI gets one cap field"
    );
    assert_eq!(answer["choices"][0]["finish_reason"], "length");
    assert_eq!(answer["usage"]["completion_tokens"], cap);

    // The client's own smaller cap is kept.
    let mut small = body.clone();
    small["max_tokens"] = json!(3);
    let (status, _) = gw.post("/v1/chat/completions", &poor, &small).await;
    assert_eq!(status, 429, "200 tokens are spent by now");
    let (_, fresh) = token_with(&gw, json!({"max_tokens": 1000})).await;
    gw.post("/v1/chat/completions", &fresh, &small).await;
    let sent = mock.last_request().await["body"].clone();
    assert_eq!(sent["max_tokens"], 3, "{sent}");
    assert!(sent.get("max_completion_tokens").is_none());

    // A budget that cannot pay for one completion token is refused before any call.
    let (_, broke) = token_with(&gw, json!({"max_tokens": 5})).await;
    let before = mock.stats().await["total"].as_u64().unwrap();
    let (status, err) = gw.post("/v1/chat/completions", &broke, &body).await;
    assert_error(
        status,
        &err,
        429,
        "insufficient_quota",
        Some("insufficient_quota"),
    );
    assert_eq!(mock.stats().await["total"].as_u64().unwrap(), before);

    // An unknown model's limit is unknown: accounting.default_completion_tokens stands in,
    // and goes upstream as the cap (a budgeted call is never sent uncapped).
    let (_, rich2) = token_with(&gw, json!({"max_tokens": 10_000_000})).await;
    let mut unknown = chat("unknown-model");
    unknown["mock"] = json!({"default_tokens": 10});
    gw.post("/v1/chat/completions", &rich2, &unknown).await;
    let sent = mock.last_request().await["body"].clone();
    assert_eq!(sent["max_completion_tokens"], 1024, "{sent}");

    // Embeddings generate nothing, so nothing is capped, however small the budget.
    let (_, small) = token_with(&gw, json!({"max_tokens": 300})).await;
    let (status, body) = gw
        .post(
            "/v1/embeddings",
            &small,
            &json!({"model": "text-embedding-3-small", "input": "hello"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let sent = mock.last_request().await["body"].clone();
    assert_eq!(
        sent,
        json!({"model": "text-embedding-3-small", "input": "hello"}),
        "passed through untouched"
    );
}

#[actix_web::test]
async fn absurd_numbers_are_refused_without_touching_the_budget() {
    let backend = Backend::sqlite();
    let (_mock, gw) =
        gateway_with_mock(&backend, &[], json!(["gpt-4o-mini"]), &["sk-absurd-0001"]).await;
    let (_, token) = token_with(&gw, json!({"max_tokens": 1000})).await;
    for (field, value) in [
        ("max_tokens", json!(i64::MAX)),
        ("max_tokens", json!(u64::MAX)),
        ("max_completion_tokens", json!(-1)),
        ("max_tokens", json!(0)),
        ("max_tokens", json!(1.5)),
        ("max_tokens", json!("100")),
        ("n", json!(0)),
        ("n", json!(129)),
        ("n", json!(i64::MAX)),
    ] {
        let mut body = chat("gpt-4o-mini");
        body[field] = value.clone();
        let (status, err) = gw.post("/v1/chat/completions", &token, &body).await;
        assert_error(status, &err, 400, "invalid_request_error", None);
        assert_eq!(err["error"]["param"], field, "{field}={value}: {err}");
    }
    let (_, balance) = gw.get("/v1/token/balance", &token).await;
    assert_eq!(balance["tokens_remaining"], 1000, "{balance}");
}

#[actix_web::test]
async fn answers_without_usage_are_billed_on_estimates() {
    for backend in Backend::all().await {
        let (mock, gw) =
            gateway_with_mock(&backend, &[], json!(["gpt-4o-mini"]), &["sk-nousage-0001"]).await;
        mock.fault(json!({"no_usage": true})).await;
        let (id, token) = token_with(&gw, json!({})).await;
        // Whole answer: "tok0 " … "tok7 " is 40 ASCII characters.
        let (status, answer) = gw
            .post("/v1/chat/completions", &token, &chat("gpt-4o-mini"))
            .await;
        assert_eq!(status, 200);
        assert!(answer.get("usage").is_none() || answer["usage"].is_null());
        // Stream of CJK text: 8 characters, a token each.
        let mut wide = chat("gpt-4o-mini");
        wide["stream"] = json!(true);
        wide["mock"] = json!({"wide": true});
        let (status, _) = gw.chat_text(&token, &wide).await;
        assert_eq!(status, 200);

        let db = backend.connect().await;
        settled_row(&db, id, 2).await;
        let mut rows = request_log::Entity::find()
            .filter(request_log::Column::TokenId.eq(id))
            .all(&db)
            .await
            .unwrap();
        rows.sort_by_key(|r| r.id);
        assert!(rows.iter().all(|r| r.usage_estimated), "{rows:?}");
        assert_eq!(rows[0].completion_tokens, 10, "{:?}", rows[0]);
        assert_eq!(rows[1].completion_tokens, 8, "{:?}", rows[1]);
        assert!(rows.iter().all(|r| r.prompt_tokens > 0));
        backend.drop_database().await;
    }
}

#[actix_web::test]
async fn prices_fall_back_only_across_dates_and_versions() {
    let backend = Backend::sqlite();
    let (_mock, gw) = gateway_with_mock(
        &backend,
        &[("GATEWAY__PRICING__MISSING_PRICE", "refuse")],
        json!(["gpt-4o-mini-2024-07-18", "gpt-4o-mini-search", "o1-pro"]),
        &["sk-variant-0001"],
    )
    .await;
    price(&gw, "gpt-4o-mini", None).await;
    price(&gw, "o1", None).await;
    let (status, body) = gw
        .post(
            "/v1/chat/completions",
            &gw.admin,
            &chat("gpt-4o-mini-2024-07-18"),
        )
        .await;
    assert_eq!(status, 200, "a dated name has its base's price: {body}");
    for variant in ["gpt-4o-mini-search", "o1-pro"] {
        let (status, body) = gw
            .post("/v1/chat/completions", &gw.admin, &chat(variant))
            .await;
        assert_error(status, &body, 403, "permission_error", None);
    }
}
