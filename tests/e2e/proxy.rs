//! Routing, balancing, failover and streaming through the gateway.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;

#[actix_web::test]
async fn routes_bare_and_prefixed_names_and_applies_redirects() {
    for backend in Backend::all().await {
        let (mock, gw) = gateway_with_mock(
            &backend,
            &[],
            json!(["gpt-4o-mini", "text-embedding-3-small"]),
            &["sk-only-key-000001"],
        )
        .await;
        let token = gw.token(&backend, &["--name", "client"]);

        for model in ["gpt-4o-mini", "mock/gpt-4o-mini"] {
            let (status, body) = gw.post("/v1/chat/completions", &token, &chat(model)).await;
            assert_eq!(status, 200, "{}: {model}: {body}", backend.label);
            assert_eq!(body["object"], "chat.completion");
            assert_eq!(body["usage"]["completion_tokens"], 8);
            assert_eq!(mock.last_request().await["body"]["model"], "gpt-4o-mini");
        }

        // A global redirect: gpt-4 -> gpt-4o-mini.
        let (status, body) = gw
            .admin_send(
                "PUT",
                "/admin/model-redirects",
                &json!({"source": "gpt-4", "target": "gpt-4o-mini"}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = gw
            .post("/v1/chat/completions", &token, &chat("gpt-4"))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(mock.last_request().await["body"]["model"], "gpt-4o-mini");

        // Unknown fields reach an OpenAI-type upstream untouched.
        let mut body = chat("gpt-4o-mini");
        body["x_vendor_field"] = json!({"a": [1, 2]});
        body["temperature"] = json!(0.25);
        let (status, _) = gw.post("/v1/chat/completions", &token, &body).await;
        assert_eq!(status, 200);
        let seen = mock.last_request().await["body"].clone();
        assert_eq!(seen["x_vendor_field"], json!({"a": [1, 2]}));
        assert_eq!(seen["temperature"], json!(0.25));

        // Embeddings and the model list.
        let (status, body) = gw
            .post(
                "/v1/embeddings",
                &token,
                &json!({"model": "text-embedding-3-small", "input": ["a", "b"]}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"].as_array().unwrap().len(), 2);
        let (status, body) = gw.get("/v1/models", &token).await;
        assert_eq!(status, 200);
        assert_eq!(body["object"], "list");
        let ids: Vec<&str> = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        for id in [
            "gpt-4o-mini",
            "mock/gpt-4o-mini",
            "text-embedding-3-small",
            "gpt-4",
        ] {
            assert!(ids.contains(&id), "{id} missing from {ids:?}");
        }
        assert!(body["data"][0]["object"] == "model" && body["data"][0]["owned_by"].is_string());
        backend.drop_database().await;
    }
}

#[actix_web::test]
async fn round_robin_spreads_calls_over_keys() {
    for backend in Backend::all().await {
        let (mock, gw) = gateway_with_mock(
            &backend,
            &[],
            json!(["gpt-4o-mini"]),
            &["sk-key-a-00000001", "sk-key-b-00000002"],
        )
        .await;
        for _ in 0..10 {
            let (status, body) = gw
                .post("/v1/chat/completions", &gw.admin, &chat("gpt-4o-mini"))
                .await;
            assert_eq!(status, 200, "{body}");
        }
        assert_eq!(
            mock.calls_for("sk-key-a-00000001").await,
            5,
            "{}",
            backend.label
        );
        assert_eq!(mock.calls_for("sk-key-b-00000002").await, 5);
        backend.drop_database().await;
    }
}

#[actix_web::test]
async fn providers_are_balanced_and_fail_over() {
    let backend = Backend::sqlite();
    let mock_a = Mock::start();
    let mock_b = Mock::start();
    let gw = Gateway::start(&backend, &[]);
    gw.add_provider("pa", &mock_a, json!(["m*"]), &["sk-provider-a-0001"])
        .await;
    gw.add_provider("pb", &mock_b, json!(["m*"]), &["sk-provider-b-0001"])
        .await;
    for _ in 0..6 {
        let (status, _) = gw
            .post("/v1/chat/completions", &gw.admin, &chat("m1"))
            .await;
        assert_eq!(status, 200);
    }
    assert_eq!(mock_a.stats().await["total"], 3);
    assert_eq!(mock_b.stats().await["total"], 3);
    // Provider A down: every call still succeeds on B.
    mock_a.fault(json!({"status": 503})).await;
    for _ in 0..6 {
        let (status, body) = gw
            .post("/v1/chat/completions", &gw.admin, &chat("m1"))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(mock_b.stats().await["total"], 9);
    // A's key failed three times in a row, so its breaker is open: an explicit prefix goes
    // only to A, which has no usable key now. One call probes whether A has recovered
    // (it has not: 502); the next, within the second, is told when to come back.
    let (status, body) = gw
        .post("/v1/chat/completions", &gw.admin, &chat("pa/m1"))
        .await;
    assert_error(
        status,
        &body,
        502,
        "upstream_error",
        Some("upstream_failed"),
    );
    let (status, body) = gw
        .post("/v1/chat/completions", &gw.admin, &chat("pa/m1"))
        .await;
    assert_error(
        status,
        &body,
        503,
        "upstream_error",
        Some("no_upstream_available"),
    );
}

#[actix_web::test]
async fn failing_keys_fail_over_and_cool_down() {
    for backend in Backend::all().await {
        for fault_status in [500, 429] {
            let mock = Mock::start();
            let gw = Gateway::start(&backend, &[]);
            let provider = format!("p{fault_status}");
            let bad = format!("sk-bad-key-{fault_status}-000");
            let good = format!("sk-good-key-{fault_status}-00");
            // Each round has its own model, so the previous round's provider is not used.
            let model = format!("model-{fault_status}");
            let ids = gw
                .add_provider(&provider, &mock, json!([model]), &[&bad, &good])
                .await;
            mock.fault(json!({"key": bad, "status": fault_status}))
                .await;
            for _ in 0..10 {
                let (status, body) = gw
                    .post("/v1/chat/completions", &gw.admin, &chat(&model))
                    .await;
                assert_eq!(status, 200, "{}: {body}", backend.label);
            }
            assert_eq!(mock.calls_for(&good).await, 10);
            let bad_calls = mock.calls_for(&bad).await;
            let (_, keys) = gw
                .admin_send("GET", &format!("/providers/{provider}/keys"), &Value::Null)
                .await;
            let bad_view = keys["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|k| k["id"] == ids[0])
                .unwrap()
                .clone();
            if fault_status == 429 {
                // Cooled down after its first 429: never tried again.
                assert_eq!(bad_calls, 1, "{keys}");
                assert_eq!(bad_view["cooling_down"], true, "{keys}");
            } else {
                assert!(bad_calls >= 1);
                assert!(bad_view["failures"].as_u64().unwrap() >= 1);
            }
            let text = serde_json::to_string(&keys).unwrap();
            assert!(
                !text.contains(&bad) && !text.contains(&good),
                "keys leaked: {text}"
            );
            drop(gw);
        }
        backend.drop_database().await;
    }
}

#[actix_web::test]
async fn connection_failure_cools_the_provider_key_and_fails_over() {
    let backend = Backend::sqlite();
    let mock = Mock::start();
    let gw = Gateway::start(&backend, &[]);
    // A provider whose upstream refuses connections, and a healthy one.
    let (status, _) = gw
        .admin_send(
            "POST",
            "/providers",
            &json!({"name": "dead", "api_type": "deepseek", "base_url": "http://127.0.0.1:9/v1", "models": ["gpt-4o-mini"]}),
        )
        .await;
    assert_eq!(status, 201);
    gw.admin_send(
        "POST",
        "/providers/dead/keys",
        &json!({"key": "sk-dead-key-000001"}),
    )
    .await;
    gw.add_provider(
        "live",
        &mock,
        json!(["gpt-4o-mini"]),
        &["sk-live-key-000001"],
    )
    .await;
    for _ in 0..4 {
        let (status, body) = gw
            .post("/v1/chat/completions", &gw.admin, &chat("gpt-4o-mini"))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (_, keys) = gw
        .admin_send("GET", "/providers/dead/keys", &Value::Null)
        .await;
    assert_eq!(keys["data"][0]["cooling_down"], true, "{keys}");
}

#[actix_web::test]
async fn streams_forward_chunks_and_bill_usage() {
    for backend in Backend::all().await {
        let (mock, gw) = gateway_with_mock(
            &backend,
            &[],
            json!(["gpt-4o-mini"]),
            &["sk-stream-key-0001"],
        )
        .await;

        // Client did not ask for usage: the gateway asks upstream, then strips the chunk.
        let mut body = chat("gpt-4o-mini");
        body["stream"] = json!(true);
        body["max_tokens"] = json!(5);
        let (status, text) = gw.chat_text(&gw.admin, &body).await;
        assert_eq!(status, 200);
        let events = sse_data(&text);
        assert_eq!(events.last().unwrap(), "[DONE]", "{text}");
        assert_eq!(
            events.len(),
            5 + 1 + 1,
            "5 tokens, a finish chunk, [DONE]: {text}"
        );
        assert!(
            !text.contains("\"usage\""),
            "usage chunk must be stripped: {text}"
        );
        let upstream_body = mock.last_request().await["body"].clone();
        assert_eq!(upstream_body["stream_options"]["include_usage"], true);

        // Client asked for usage: it gets the chunk.
        body["stream_options"] = json!({"include_usage": true});
        let (_, text) = gw.chat_text(&gw.admin, &body).await;
        let usage_events: Vec<Value> = sse_data(&text)
            .iter()
            .filter_map(|e| serde_json::from_str::<Value>(e).ok())
            .filter(|v| v.get("usage").is_some_and(|u| !u.is_null()))
            .collect();
        assert_eq!(usage_events.len(), 1, "{text}");
        assert_eq!(usage_events[0]["usage"]["completion_tokens"], 5);

        // Both streams are logged with the upstream's usage, not an estimate.
        let db = backend.connect().await;
        let rows = eventually(Duration::from_secs(2), || async {
            let rows = rows(&db).await;
            (rows.len() >= 2).then_some(rows)
        })
        .await
        .expect("two log rows");
        for row in &rows {
            assert!(row.stream);
            assert_eq!(row.status_code, 200);
            assert_eq!(row.completion_tokens, 5);
            assert!(!row.usage_estimated);
        }
        backend.drop_database().await;
    }
}

#[actix_web::test]
async fn stream_cut_by_upstream_or_client_is_still_logged_and_estimated() {
    let backend = Backend::sqlite();
    let (mock, gw) = gateway_with_mock(
        &backend,
        &[],
        json!(["gpt-4o-mini"]),
        &["sk-cut-key-000001"],
    )
    .await;
    mock.fault(json!({"cut_after_chunks": 3, "times": 1})).await;
    let mut body = chat("gpt-4o-mini");
    body["stream"] = json!(true);
    body["max_tokens"] = json!(20);
    let (status, text) = gw.chat_text(&gw.admin, &body).await;
    assert_eq!(status, 200);
    assert!(text.contains("tok2") && !text.contains("tok3"), "{text}");

    // The client walks away after the first chunks of a slow stream.
    body["max_tokens"] = json!(200);
    body["mock"] = json!({"chunk_delay_ms": 20});
    gw.abandon_stream(&gw.admin, &body).await;

    let db = backend.connect().await;
    let rows = eventually(Duration::from_secs(3), || async {
        let rows = rows(&db).await;
        (rows.len() >= 2).then_some(rows)
    })
    .await
    .expect("both streams logged");
    let cut = rows
        .iter()
        .find(|r| r.status_code == 502)
        .expect("upstream cut logged");
    assert!(cut.usage_estimated && cut.completion_tokens > 0, "{cut:?}");
    let gone = rows
        .iter()
        .find(|r| r.status_code == 499)
        .expect("client disconnect logged");
    assert_eq!(gone.error_type.as_deref(), Some("client_disconnected"));
    assert!(
        gone.usage_estimated && gone.completion_tokens >= 1 && gone.completion_tokens < 200,
        "{gone:?}"
    );
}
