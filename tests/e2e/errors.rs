//! Every row of the contract's error table, through the real binary.

use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

use crate::harness::*;

#[actix_web::test]
async fn error_table() {
    for backend in Backend::all().await {
        let mock = Mock::start();
        let gw = Gateway::start(
            &backend,
            &[
                ("GATEWAY__SERVER__MAX_BODY_BYTES", "4096"),
                ("GATEWAY__UPSTREAM__FIRST_BYTE_TIMEOUT_SECS", "1"),
            ],
        );
        gw.add_provider(
            "mock",
            &mock,
            json!([
                "gpt-4o-mini",
                "gpt-4o",
                "slow-model",
                "broken-model",
                "picky-model"
            ]),
            &["sk-error-key-00001"],
        )
        .await;
        let token = gw.token(
            &backend,
            &[
                "--name",
                "client",
                "--models",
                "gpt-4o-mini,slow-model,broken-model,picky-model,keyless",
            ],
        );
        let chat_url = gw.url("/v1/chat/completions");
        let label = backend.label;

        // 400: malformed JSON, wrong types, missing fields.
        let (status, body) = send_raw(
            "POST",
            &chat_url,
            Some(&token),
            Some("application/json"),
            b"{\"model\": ".to_vec(),
        )
        .await;
        assert_error(
            status,
            &serde_json::from_slice(&body).unwrap(),
            400,
            "invalid_request_error",
            None,
        );
        for bad in [
            json!({"messages": [{"role": "user", "content": "x"}]}),
            json!({"model": 7, "messages": []}),
            json!({"model": "gpt-4o-mini", "messages": "hello"}),
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}),
            json!(["not", "an", "object"]),
        ] {
            let (status, body) = gw.post("/v1/chat/completions", &token, &bad).await;
            assert_error(status, &body, 400, "invalid_request_error", None);
        }
        let (status, body) = gw
            .post("/v1/embeddings", &token, &json!({"model": "gpt-4o-mini"}))
            .await;
        assert_error(status, &body, 400, "invalid_request_error", None);
        assert_eq!(body["error"]["param"], "input");

        // 401: missing, unknown, disabled, expired.
        let (status, body) = send_json("POST", &chat_url, None, &chat("gpt-4o-mini")).await;
        assert_error(
            status,
            &body,
            401,
            "authentication_error",
            Some("invalid_token"),
        );
        let (status, body) = gw
            .post(
                "/v1/chat/completions",
                "gz-not-a-real-token",
                &chat("gpt-4o-mini"),
            )
            .await;
        assert_error(
            status,
            &body,
            401,
            "authentication_error",
            Some("invalid_token"),
        );
        let expired = gw.token(
            &backend,
            &["--name", "old", "--expires-at", "2020-01-01T00:00:00Z"],
        );
        let (status, body) = gw
            .post("/v1/chat/completions", &expired, &chat("gpt-4o-mini"))
            .await;
        assert_error(
            status,
            &body,
            401,
            "authentication_error",
            Some("token_expired"),
        );
        let disabled = gw.token(&backend, &["--name", "off"]);
        let db = backend.connect().await;
        // A change made in the database (as another instance's admin API makes it) is
        // picked up by the sync through updated_at.
        db.execute(Statement::from_string(
            db.get_database_backend(),
            format!(
                "UPDATE tokens SET enabled = false, updated_at = {} WHERE name = 'off'",
                gateway_zero::time::now_ms()
            ),
        ))
        .await
        .unwrap();
        let (status, body) = eventually(std::time::Duration::from_secs(3), || async {
            let (status, body) = gw
                .post("/v1/chat/completions", &disabled, &chat("gpt-4o-mini"))
                .await;
            (status == 401).then_some((status, body))
        })
        .await
        .expect("the disabled token is refused within the sync interval");
        assert_error(
            status,
            &body,
            401,
            "authentication_error",
            Some("token_disabled"),
        );

        // 403: model outside the allow-list (with or without a provider prefix); admin route.
        for model in ["gpt-4o", "mock/gpt-4o"] {
            let (status, body) = gw.post("/v1/chat/completions", &token, &chat(model)).await;
            assert_error(status, &body, 403, "permission_error", None);
        }
        let (status, body) = gw.get("/providers", &token).await;
        assert_error(status, &body, 403, "permission_error", None);

        // 404: no provider serves the model; unknown route; unknown resource.
        let (status, body) = gw
            .post("/v1/chat/completions", &gw.admin, &chat("no-such-model"))
            .await;
        assert_error(status, &body, 404, "not_found_error", None);
        let (status, body) = gw.get("/v1/nothing-here", &token).await;
        assert_error(status, &body, 404, "not_found_error", None);
        let (status, body) = gw.get("/providers/ghost", &gw.admin).await;
        assert_error(status, &body, 404, "not_found_error", None);

        // 413: body over server.max_body_bytes.
        let mut big = chat("gpt-4o-mini");
        big["messages"][0]["content"] = json!("x".repeat(5000));
        let (status, body) = gw.post("/v1/chat/completions", &token, &big).await;
        assert_error(status, &body, 413, "invalid_request_error", None);

        // 502: the upstream fails on every attempt.
        mock.fault(json!({"model": "broken-model", "status": 500}))
            .await;
        let (status, body) = gw
            .post("/v1/chat/completions", &token, &chat("broken-model"))
            .await;
        assert_error(status, &body, 502, "upstream_error", None);
        assert!(
            !body.to_string().contains("sk-error-key"),
            "key leaked: {body}"
        );

        // 504: a stream's first byte not within first_byte_timeout_secs (a whole answer
        // waits for request_timeout_secs: its headers come when it is generated).
        mock.fault(json!({"model": "slow-model", "delay_ms": 1600}))
            .await;
        let mut slow = chat("slow-model");
        slow["stream"] = json!(true);
        let (status, body) = gw.post("/v1/chat/completions", &token, &slow).await;
        assert_error(status, &body, 504, "upstream_error", None);

        // Upstream 4xx (other than 401/403/429) is passed through with its message.
        mock.fault(
            json!({"model": "picky-model", "status": 422, "message": "temperature too high"}),
        )
        .await;
        let (status, body) = gw
            .post("/v1/chat/completions", &token, &chat("picky-model"))
            .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["message"], "temperature too high");

        // 503: a provider serves the model but has no usable key.
        let (status, _) = gw
            .admin_send("POST", "/providers", &json!({"name": "nokeys", "api_type": "openai", "base_url": mock.v1(), "models": ["keyless"]}))
            .await;
        assert_eq!(status, 201);
        let (status, body) = gw
            .post("/v1/chat/completions", &token, &chat("keyless"))
            .await;
        assert_error(status, &body, 503, "upstream_error", None);

        // 405 on a known route with the wrong method, still JSON.
        let (status, body) = gw.get("/v1/chat/completions", &token).await;
        assert_eq!(status, 405, "{label}");
        assert!(body["error"]["type"].is_string());

        // Nothing above crashed the gateway.
        let (status, _) = get_json(&gw.url("/health"), None).await;
        assert_eq!(status, 200);
        let (status, _) = get_json(&gw.url("/ready"), None).await;
        assert_eq!(status, 200);
        backend.drop_database().await;
    }
}

#[actix_web::test]
async fn admin_input_is_validated() {
    let backend = Backend::sqlite();
    let gw = Gateway::start(&backend, &[]);
    for bad in [
        json!({"name": "x", "api_type": "azure"}),
        json!({"name": "a/b", "api_type": "openai"}),
        json!({"name": "x", "api_type": "openai", "base_url": "ftp://nope"}),
        json!({"name": "x", "api_type": "openai", "weight": -1}),
        json!({"name": "x", "api_type": "openai", "unknown_field": 1}),
        json!({"api_type": "openai"}),
    ] {
        let (status, body) = gw.admin_send("POST", "/providers", &bad).await;
        assert_error(status, &body, 400, "invalid_request_error", None);
    }
    let (status, body) = gw.admin_send("GET", "/providers", &Value::Null).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"], json!([]), "bad input changed nothing");

    let (status, body) = gw
        .admin_send(
            "POST",
            "/providers",
            &json!({"name": "Dup", "api_type": "OpenAI"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["base_url"], "https://api.openai.com/v1",
        "default base_url per type"
    );
    assert_eq!(body["api_type"], "openai");
    let (status, _) = gw
        .admin_send(
            "POST",
            "/providers",
            &json!({"name": "Dup", "api_type": "openai"}),
        )
        .await;
    assert_eq!(status, 409);
    let (status, body) = gw
        .admin_send("POST", "/providers/Dup/keys", &json!({"key": ""}))
        .await;
    assert_error(status, &body, 400, "invalid_request_error", None);
    let (status, body) = gw
        .admin_send(
            "PATCH",
            "/providers/Dup",
            &json!({"enabled": false, "models": ["a*"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["enabled"], false);
    assert_eq!(body["models"], json!(["a*"]));
    let (status, body) = gw
        .admin_send("PATCH", "/providers/Dup", &json!({"models": null}))
        .await;
    assert_eq!(status, 200);
    assert!(body["models"].is_null());

    // Keys: added, masked, patched, deleted; never returned in plaintext.
    let (status, key) = gw
        .admin_send(
            "POST",
            "/providers/Dup/keys",
            &json!({"key": "sk-proj-1234567890abcd", "description": "first"}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(key["masked_key"], "sk-p****abcd");
    let id = key["id"].as_i64().unwrap();
    let (status, _) = gw
        .admin_send(
            "POST",
            "/providers/Dup/keys",
            &json!({"key": "sk-proj-1234567890abcd"}),
        )
        .await;
    assert_eq!(status, 409, "same key twice");
    let (status, body) = gw
        .admin_send(
            "PATCH",
            &format!("/providers/Dup/keys/{id}"),
            &json!({"enabled": false, "weight": 5}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["enabled"], false);
    assert_eq!(body["weight"], 5);
    let (status, _) = gw
        .admin_send("DELETE", &format!("/providers/Dup/keys/{id}"), &Value::Null)
        .await;
    assert_eq!(status, 200);
    let (status, _) = gw
        .admin_send("DELETE", &format!("/providers/Dup/keys/{id}"), &Value::Null)
        .await;
    assert_eq!(status, 404);
    let (status, _) = gw
        .admin_send("DELETE", "/providers/Dup", &Value::Null)
        .await;
    assert_eq!(status, 200);
    let (status, _) = gw.admin_send("GET", "/providers/Dup", &Value::Null).await;
    assert_eq!(status, 404);
}
