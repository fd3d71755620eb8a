//! Budgets, rate limits, prices and usage accounting through the real binary.

use std::time::Duration;

use entity::{request_log, token};
use futures::future::join_all;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::{json, Value};

use crate::harness::*;

/// $1 per million input tokens, $2 per million output tokens for the mock's model. A mock
/// call with `chat()` has 6 prompt and `max_tokens` completion tokens.
async fn set_price(gw: &Gateway, model: &str, input: f64, output: f64) {
    let (status, body) = gw
        .admin_send(
            "PUT",
            "/admin/model-prices",
            &json!({"model": model, "input_per_million": input, "output_per_million": output}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn create_token(gw: &Gateway, body: Value) -> (i64, String) {
    let (status, created) = gw.admin_send("POST", "/admin/tokens", &body).await;
    assert_eq!(status, 201, "{created}");
    (
        created["id"].as_i64().unwrap(),
        created["token"].as_str().unwrap().to_string(),
    )
}

async fn token_logs(db: &DatabaseConnection, id: i64) -> Vec<request_log::Model> {
    request_log::Entity::find()
        .filter(request_log::Column::TokenId.eq(id as i32))
        .all(db)
        .await
        .unwrap()
}

/// Waits until `n` log rows of the token are stored, and returns them with the token row.
async fn settled(
    db: &DatabaseConnection,
    id: i64,
    n: usize,
) -> (Vec<request_log::Model>, token::Model) {
    let logs = eventually(Duration::from_secs(5), || async {
        let logs = token_logs(db, id).await;
        (logs.len() >= n).then_some(logs)
    })
    .await
    .unwrap_or_else(|| panic!("expected {n} log rows"));
    // Counters are written in the same transaction as the rows.
    let row = token::Entity::find_by_id(id as i32)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    (logs, row)
}

fn chat_body(tokens: u64, stream: bool) -> Value {
    let mut body = chat("gpt-4o-mini");
    body["max_tokens"] = json!(tokens);
    body["stream"] = json!(stream);
    body
}

/// Fires `n` calls at once and returns their statuses and bodies.
async fn burst(base: &str, token: &str, body: &Value, n: usize) -> Vec<(u16, String)> {
    let url = format!("{base}/v1/chat/completions");
    let calls = (0..n).map(|_| async {
        let (status, bytes) = send_raw(
            "POST",
            &url,
            Some(token),
            Some("application/json"),
            serde_json::to_vec(body).unwrap(),
        )
        .await;
        (status.as_u16(), String::from_utf8_lossy(&bytes).to_string())
    });
    join_all(calls).await
}

#[actix_web::test]
async fn money_budget_holds_under_concurrency_for_plain_and_streaming_calls() {
    for backend in Backend::all().await {
        let (_mock, gw) = gateway_with_mock(
            &backend,
            &[],
            json!(["gpt-4o-mini"]),
            &["sk-budget-key-00001", "sk-budget-key-00002"],
        )
        .await;
        set_price(&gw, "gpt-4o-mini", 1.0, 2.0).await;
        let db = backend.connect().await;
        // One call: 6 prompt + 8 completion tokens = 6*1000 + 8*2000 nano-dollars.
        let one_call: i64 = 22_000;
        for stream in [false, true] {
            let max_amount = 10.0 * one_call as f64 / 1e9;
            let (id, token) = create_token(
                &gw,
                json!({"name": format!("budget-{stream}"), "max_amount": max_amount}),
            )
            .await;
            let results = burst(&gw.base, &token, &chat_body(8, stream), 100).await;
            let ok = results.iter().filter(|(s, _)| *s == 200).count();
            for (status, body) in &results {
                if *status != 200 {
                    assert_eq!(*status, 429, "{body}");
                    let v: Value = serde_json::from_str(body).unwrap();
                    assert_eq!(v["error"]["type"], "insufficient_quota", "{body}");
                }
            }
            assert!(
                ok <= 11,
                "{}: {ok} successes for a 10-call budget",
                backend.label
            );
            // Each call reserves its prompt's bound and its 8 completion tokens: at least
            // as many as that allows are admitted at once.
            let body = serde_json::to_vec(&chat_body(8, stream)).unwrap();
            use gateway_zero::accounting::prompt_bound::{image_tokens, prompt_bound, Reader};
            let reader = Reader {
                dialect: gateway_zero::core::endpoint::Dialect::Chat,
                image_tokens: image_tokens("gpt-4o-mini"),
            };
            let bound = prompt_bound(&body, reader).unwrap();
            let reserved = bound.tokens * 1000 + 8 * 2000;
            assert!(
                ok as i64 >= (10 * one_call) / reserved,
                "{}: only {ok} successes: reservations too coarse",
                backend.label
            );
            // Sequential calls use up what is left, then are refused.
            let mut calls = 100;
            loop {
                calls += 1;
                let (status, body) = gw
                    .post("/v1/chat/completions", &token, &chat_body(8, stream))
                    .await;
                if status != 200 {
                    assert_eq!(status, 429, "{body}");
                    break;
                }
                assert!(calls < 120, "budget never ran out");
            }
            let (logs, row) = settled(&db, id, calls).await;
            assert_eq!(logs.len(), calls);
            let logged: i64 = logs.iter().map(|l| l.amount_nano).sum();
            assert_eq!(row.amount_spent_nano, logged, "counters agree with the log");
            let max = (max_amount * 1e9).round() as i64;
            assert!(
                row.amount_spent_nano <= max,
                "{}: {} spent of {max}: a hard limit",
                backend.label,
                row.amount_spent_nano
            );
            // What is left cannot pay for the prompt's bound plus one output token.
            let slack = (bound.tokens + 1) * 1000 + 2000;
            assert!(
                row.amount_spent_nano >= max - slack,
                "budget was used: {} of {max}",
                row.amount_spent_nano
            );
            for log in logs.iter().filter(|l| l.status_code == 200) {
                assert!(log.amount_nano <= one_call, "{log:?}");
            }
            assert_eq!(row.request_count, logs.len() as i64);
            // The client's view agrees.
            let (_, balance) = gw.get("/v1/token/balance", &token).await;
            assert_eq!(
                balance["usage"]["amount_spent"].as_f64().unwrap(),
                row.amount_spent_nano as f64 / 1e9
            );
            let left = balance["balance"].as_f64().unwrap();
            assert!((0.0..=slack as f64 / 1e9).contains(&left), "{balance}");
        }
        backend.drop_database().await;
    }
}

#[actix_web::test]
async fn token_budget_holds_under_concurrency() {
    for backend in Backend::all().await {
        let (_mock, gw) = gateway_with_mock(
            &backend,
            &[],
            json!(["gpt-4o-mini"]),
            &["sk-tokens-key-0001"],
        )
        .await;
        let db = backend.connect().await;
        // 14 tokens a call, each reserving its prompt's bound and 8: the budget holds
        // three reservations at once.
        use gateway_zero::accounting::prompt_bound::{image_tokens, prompt_bound, Reader};
        let reader = Reader {
            dialect: gateway_zero::core::endpoint::Dialect::Chat,
            image_tokens: image_tokens("gpt-4o-mini"),
        };
        let body = serde_json::to_vec(&chat_body(8, false)).unwrap();
        let max = 3 * (prompt_bound(&body, reader).unwrap().tokens + 8);
        let (id, token) = create_token(&gw, json!({"name": "tokens", "max_tokens": max})).await;
        let results = burst(&gw.base, &token, &chat_body(8, false), 100).await;
        let ok = results.iter().filter(|(s, _)| *s == 200).count();
        assert!(ok >= 3 && (ok as i64) * 14 <= max, "{ok} successes");
        assert!(results.iter().all(|(s, _)| *s == 200 || *s == 429));
        let (logs, row) = settled(&db, id, 100).await;
        assert_eq!(
            row.total_tokens,
            logs.iter().map(|l| l.total_tokens).sum::<i64>()
        );
        assert!(row.total_tokens <= max, "{}", row.total_tokens);
        let (_, balance) = gw.get("/v1/token/balance", &token).await;
        assert_eq!(balance["max_tokens"], max);
        assert_eq!(
            balance["tokens_remaining"].as_i64().unwrap(),
            (max - row.total_tokens).max(0)
        );
        assert!(balance["balance"].is_null());
        backend.drop_database().await;
    }
}

#[actix_web::test]
async fn rpm_and_tpm_limits() {
    let backend = Backend::sqlite();
    let (_mock, gw) = gateway_with_mock(
        &backend,
        &[],
        json!(["gpt-4o-mini"]),
        &["sk-rate-key-000001"],
    )
    .await;
    let (_, token) = create_token(&gw, json!({"name": "rpm", "rpm": 5})).await;
    for i in 0..5 {
        let (status, body) = gw
            .post("/v1/chat/completions", &token, &chat_body(2, false))
            .await;
        assert_eq!(status, 200, "call {i}: {body}");
    }
    let (status, body) = gw
        .post("/v1/chat/completions", &token, &chat_body(2, false))
        .await;
    assert_error(status, &body, 429, "rate_limit_error", None);

    // tpm 20: calls are admitted while the minute's tokens are below the limit, so two calls
    // of 14 tokens pass (the second overshoots, as a budget's last call may) and the third
    // is refused.
    let (_, token) = create_token(&gw, json!({"name": "tpm", "tpm": 20})).await;
    for _ in 0..2 {
        let (status, body) = gw
            .post("/v1/chat/completions", &token, &chat_body(8, false))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = gw
        .post("/v1/chat/completions", &token, &chat_body(8, false))
        .await;
    assert_error(status, &body, 429, "rate_limit_error", None);
}

#[actix_web::test]
async fn streams_are_billed_even_when_cut_and_usage_endpoint_lists_items() {
    for backend in Backend::all().await {
        let (_mock, gw) = gateway_with_mock(
            &backend,
            &[],
            json!(["gpt-4o-mini"]),
            &["sk-bill-key-000001"],
        )
        .await;
        set_price(&gw, "gpt-4o-mini", 1.0, 2.0).await;
        let (id, token) = create_token(&gw, json!({"name": "streamer"})).await;

        // A full stream; the client did not ask for usage.
        let (status, text) = gw.chat_text(&token, &chat_body(5, true)).await;
        assert_eq!(status, 200);
        assert!(!text.contains("\"usage\""));

        // A stream the client abandons after its first chunk.
        let mut slow = chat_body(100, true);
        slow["mock"] = json!({"chunk_delay_ms": 20});
        gw.abandon_stream(&token, &slow).await;

        let db = backend.connect().await;
        let (logs, row) = settled(&db, id, 2).await;
        let full = logs.iter().find(|l| l.status_code == 200).unwrap();
        assert_eq!((full.completion_tokens, full.usage_estimated), (5, false));
        assert_eq!(full.amount_nano, 6 * 1000 + 5 * 2000);
        let cut = logs.iter().find(|l| l.status_code == 499).unwrap();
        assert!(cut.usage_estimated && cut.amount_nano > 0, "{cut:?}");
        assert_eq!(row.amount_spent_nano, full.amount_nano + cut.amount_nano);

        let (status, usage) = gw.get("/v1/token/usage?limit=10", &token).await;
        assert_eq!(status, 200, "{usage}");
        assert_eq!(usage["requests"], 2);
        assert_eq!(
            usage["completion_tokens"].as_i64().unwrap(),
            full.completion_tokens + cut.completion_tokens
        );
        assert_eq!(usage["items"].as_array().unwrap().len(), 2);
        assert_eq!(
            usage["items"][0]["status_code"], 499,
            "newest first: {usage}"
        );
        let (status, usage) = gw.get("/v1/token/usage", &token).await;
        assert_eq!(status, 200);
        assert!(usage.get("items").is_none());
        let (status, body) = gw.get("/v1/token/usage?limit=0", &token).await;
        assert_error(status, &body, 400, "invalid_request_error", None);
        backend.drop_database().await;
    }
}

#[actix_web::test]
async fn redirected_calls_are_priced_by_the_serving_model_and_missing_prices_refused() {
    let backend = Backend::sqlite();
    let (_mock, gw) = gateway_with_mock(
        &backend,
        &[("GATEWAY__PRICING__MISSING_PRICE", "refuse")],
        json!(["gpt-4o-mini", "unpriced-model", "gpt-4"]),
        &["sk-price-key-00001"],
    )
    .await;
    set_price(&gw, "gpt-4o-mini", 1.0, 2.0).await;
    set_price(&gw, "gpt-4", 100.0, 200.0).await;
    gw.admin_send(
        "PUT",
        "/admin/model-redirects",
        &json!({"source": "gpt-4", "target": "gpt-4o-mini"}),
    )
    .await;
    let (id, token) = create_token(&gw, json!({"name": "priced"})).await;
    let mut body = chat("gpt-4");
    body["max_tokens"] = json!(8);
    let (status, _) = gw.post("/v1/chat/completions", &token, &body).await;
    assert_eq!(status, 200);
    let (status, body) = gw
        .post("/v1/chat/completions", &token, &chat("unpriced-model"))
        .await;
    assert_error(status, &body, 403, "permission_error", None);
    let db = backend.connect().await;
    let (logs, _) = settled(&db, id, 2).await;
    let served = logs.iter().find(|l| l.status_code == 200).unwrap();
    assert_eq!(served.requested_model.as_deref(), Some("gpt-4"));
    assert_eq!(served.model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(
        served.amount_nano, 22_000,
        "priced as gpt-4o-mini, not gpt-4"
    );

    // Per-provider price beats the global one; the list shows both.
    gw.admin_send(
        "PUT",
        "/admin/model-prices",
        &json!([{"model": "gpt-4o-mini", "provider": "mock", "input_per_million": 0.5, "output_per_million": 0.5}]),
    )
    .await;
    let (_, prices) = gw.get("/admin/model-prices", &gw.admin).await;
    let rows = prices["data"].as_array().unwrap();
    assert!(rows
        .iter()
        .any(|p| p["model"] == "gpt-4o-mini" && p["provider"] == "mock"));
    assert!(
        rows.iter().any(|p| p["model"] == "claude-sonnet-4-5"),
        "default list seeded"
    );
    let (status, body) = gw
        .admin_send(
            "PUT",
            "/admin/model-prices",
            &json!({"model": "x", "input_per_million": -1, "output_per_million": 1}),
        )
        .await;
    assert_error(status, &body, 400, "invalid_request_error", None);
}

#[actix_web::test]
async fn admin_token_lifecycle_takes_effect_at_once() {
    for backend in Backend::all().await {
        let (_mock, gw) = gateway_with_mock(
            &backend,
            &[],
            json!(["gpt-4o-mini", "o1"]),
            &["sk-life-key-000001"],
        )
        .await;
        let (id, token) = create_token(
            &gw,
            json!({"name": "life", "allowed_models": ["gpt-4o*"], "max_amount": 5.0, "expires_at": "2099-01-01T00:00:00Z", "rpm": 100}),
        )
        .await;
        let (status, got) = gw
            .admin_send("GET", &format!("/admin/tokens/{id}"), &Value::Null)
            .await;
        assert_eq!(status, 200);
        assert_eq!(got["max_amount"], 5.0);
        assert_eq!(got["allowed_models"], json!(["gpt-4o*"]));
        assert!(
            got.get("token").is_none() && !got.to_string().contains(&token),
            "plaintext only once"
        );
        let (_, list) = gw.admin_send("GET", "/admin/tokens", &Value::Null).await;
        assert!(!list.to_string().contains(&token));

        let (status, _) = gw
            .post("/v1/chat/completions", &token, &chat("gpt-4o-mini"))
            .await;
        assert_eq!(status, 200);
        let (status, body) = gw.post("/v1/chat/completions", &token, &chat("o1")).await;
        assert_error(status, &body, 403, "permission_error", None);

        // Widen the allow-list, then disable, re-enable, expire, delete: each in force at once.
        let (status, body) = gw
            .admin_send(
                "PATCH",
                &format!("/admin/tokens/{id}"),
                &json!({"allowed_models": null}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert!(body["allowed_models"].is_null());
        let (status, _) = gw.post("/v1/chat/completions", &token, &chat("o1")).await;
        assert_eq!(status, 200);
        gw.admin_send(
            "PATCH",
            &format!("/admin/tokens/{id}"),
            &json!({"enabled": false}),
        )
        .await;
        let (status, body) = gw
            .post("/v1/chat/completions", &token, &chat("gpt-4o-mini"))
            .await;
        assert_error(
            status,
            &body,
            401,
            "authentication_error",
            Some("token_disabled"),
        );
        gw.admin_send(
            "PATCH",
            &format!("/admin/tokens/{id}"),
            &json!({"enabled": true}),
        )
        .await;
        let (status, _) = gw
            .post("/v1/chat/completions", &token, &chat("gpt-4o-mini"))
            .await;
        assert_eq!(status, 200);
        let (status, body) = gw
            .admin_send(
                "PATCH",
                &format!("/admin/tokens/{id}"),
                &json!({"expires_at": "2001-01-01T00:00:00Z"}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = gw
            .post("/v1/chat/completions", &token, &chat("gpt-4o-mini"))
            .await;
        assert_error(
            status,
            &body,
            401,
            "authentication_error",
            Some("token_expired"),
        );
        let (status, _) = gw
            .admin_send("DELETE", &format!("/admin/tokens/{id}"), &Value::Null)
            .await;
        assert_eq!(status, 200);
        let (status, body) = gw
            .post("/v1/chat/completions", &token, &chat("gpt-4o-mini"))
            .await;
        assert_error(
            status,
            &body,
            401,
            "authentication_error",
            Some("invalid_token"),
        );
        let (status, _) = gw
            .admin_send("GET", &format!("/admin/tokens/{id}"), &Value::Null)
            .await;
        assert_eq!(status, 404);

        // Bad input changes nothing.
        for bad in [
            json!({"name": ""}),
            json!({"name": "x", "max_amount": -1}),
            json!({"name": "x", "expires_at": "tomorrow"}),
            json!({"name": "x", "role": "root"}),
            json!({"name": "x", "rpm": 0}),
            json!({"name": "x", "surprise": true}),
        ] {
            let (status, body) = gw.admin_send("POST", "/admin/tokens", &bad).await;
            assert_error(status, &body, 400, "invalid_request_error", None);
        }
        let (_, after) = gw.admin_send("GET", "/admin/tokens", &Value::Null).await;
        assert_eq!(
            after["data"].as_array().unwrap().len(),
            1,
            "only the bootstrap admin remains: {after}"
        );
        backend.drop_database().await;
    }
}

#[actix_web::test]
async fn sigterm_under_load_loses_no_usage() {
    for backend in Backend::all().await {
        let mock = Mock::start();
        let mut gw = Gateway::start(
            &backend,
            &[("GATEWAY__ACCOUNTING__FLUSH_INTERVAL_MS", "5000")],
        );
        gw.add_provider(
            "mock",
            &mock,
            json!(["gpt-4o-mini"]),
            &["sk-term-key-000001"],
        )
        .await;
        set_price(&gw, "gpt-4o-mini", 1.0, 2.0).await;
        let (id, token) = create_token(&gw, json!({"name": "term"})).await;
        // Slow streams in flight when SIGTERM arrives, plus quick calls before it.
        let mut slow = chat_body(20, true);
        slow["mock"] = json!({"chunk_delay_ms": 25});
        for _ in 0..10 {
            let (status, _) = gw
                .post("/v1/chat/completions", &token, &chat_body(8, false))
                .await;
            assert_eq!(status, 200);
        }
        let base = gw.base.clone();
        let streams = burst(&base, &token, &slow, 20);
        let stopper = async {
            actix_web::rt::time::sleep(Duration::from_millis(150)).await;
            gw.stop();
        };
        let (results, _) = futures::join!(streams, stopper);
        let answered = results
            .iter()
            .filter(|(s, body)| *s == 200 && body.contains("[DONE]"))
            .count();
        assert_eq!(answered, 20, "in-flight streams finish during the drain");

        let db = backend.connect().await;
        let logs = token_logs(&db, id).await;
        assert_eq!(
            logs.len(),
            30,
            "every answered call is logged after shutdown"
        );
        let row = token::Entity::find_by_id(id as i32)
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.request_count, 30);
        assert_eq!(
            row.amount_spent_nano,
            logs.iter().map(|l| l.amount_nano).sum::<i64>()
        );
        assert_eq!(
            row.amount_spent_nano,
            10 * 22_000 + 20 * (6_000 + 20 * 2_000)
        );

        // After a restart the counters carry on from the stored values.
        let gw = Gateway::start(&backend, &[]);
        let (_, usage) = gw.get("/v1/token/usage", &token).await;
        assert_eq!(usage["requests"], 30, "{usage}");
        backend.drop_database().await;
    }
}
