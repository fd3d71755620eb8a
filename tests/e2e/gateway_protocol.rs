//! What Claude Code and other Anthropic clients expect of a gateway (contract section 3,
//! "Claude Code and other Anthropic clients"): the `/api/hello` probe, model discovery in
//! Anthropic's list shape with only `x-api-key`, `Retry-After` in whole seconds on every
//! 429 and 503, and the upstream's pacing headers relayed on pass-through.

use serde_json::{json, Value};

use crate::harness::*;

/// An Anthropic-style GET (`x-api-key`, `anthropic-version`).
async fn anthropic_get(gw: &Gateway, path: &str, key: &str) -> (u16, Value) {
    let mut resp = client()
        .get(gw.url(path))
        .insert_header(("x-api-key", key))
        .insert_header(("anthropic-version", "2023-06-01"))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body = resp
        .json::<Value>()
        .limit(4 << 20)
        .await
        .unwrap_or(Value::Null);
    (status, body)
}

#[actix_web::test]
async fn the_probe_and_model_discovery_answer_as_claude_code_expects() {
    let backend = Backend::sqlite();
    let mock = Mock::start();
    let gw = Gateway::start(&backend, &[]);
    // A provider that serves a pattern, and priced names it matches.
    add_claude(&gw, &mock, "sk-ant-protocol-0001").await;
    for model in ["claude-sonnet-4-5", "claude-haiku-4-5"] {
        price(&gw, model, Some(8192)).await;
    }
    gw.add_provider("open", &mock, json!(["gpt-4o-mini"]), &["sk-protocol-0002"])
        .await;
    let (s, _) = gw
        .admin_send(
            "PUT",
            "/admin/model-redirects",
            &json!({"source": "house-model", "target": "gpt-4o-mini"}),
        )
        .await;
    assert_eq!(s, 200);
    // The probe: HEAD and GET, no credential.
    for method in ["HEAD", "GET"] {
        let (status, _) = send_raw(method, &gw.url("/api/hello"), None, None, Vec::new()).await;
        assert_eq!(status, 200, "{method} /api/hello");
    }
    let (_, token) = token_with(&gw, json!({})).await;
    let (status, list) = anthropic_get(&gw, "/v1/models?limit=1000", &token).await;
    assert_eq!(status, 200, "{list}");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    for id in [
        "claude-sonnet-4-5",
        "claude-haiku-4-5",
        "gpt-4o-mini",
        "house-model",
        "open/gpt-4o-mini",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    let first = &list["data"][0];
    assert_eq!(first["type"], "model", "{first}");
    assert!(first["display_name"].is_string() && first["created_at"].is_string());
    assert_eq!(list["has_more"], false);
    assert_eq!(list["first_id"], json!(ids[0]));
    assert_eq!(list["last_id"], json!(ids[ids.len() - 1]));
    // Pages by after_id walk every id once.
    let mut walked = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/v1/models?limit=2&after_id={a}"),
            None => "/v1/models?limit=2".to_string(),
        };
        let (_, page) = anthropic_get(&gw, &path, &token).await;
        for m in page["data"].as_array().unwrap() {
            walked.push(m["id"].as_str().unwrap().to_string());
        }
        if page["has_more"] != true {
            break;
        }
        after = page["last_id"].as_str().map(str::to_string);
    }
    assert_eq!(walked, ids, "pages walk the list once");
    // A token limited to Claude models lists only those; OpenAI clients get OpenAI's shape.
    let (_, limited) = token_with(&gw, json!({"allowed_models": ["claude-*"]})).await;
    let (_, list) = anthropic_get(&gw, "/v1/models?limit=1000", &limited).await;
    assert!(
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["id"].as_str().unwrap().contains("claude")),
        "{list}"
    );
    let (s, openai) = gw.get("/v1/models", &token).await;
    assert_eq!(s, 200);
    assert_eq!(openai["object"], "list", "{openai}");
    assert!(openai["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == "claude-haiku-4-5"));
    // Pacing headers of a passed-through Anthropic answer reach the client.
    let mut resp = client()
        .post(gw.url("/v1/messages"))
        .insert_header(("x-api-key", token.as_str()))
        .insert_header(("anthropic-version", "2023-06-01"))
        .send_json(&json!({"model": "claude-haiku-4-5", "max_tokens": 20,
                           "messages": [{"role": "user", "content": "hi"}]}))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()
            .get("anthropic-ratelimit-requests-remaining")
            .and_then(|v| v.to_str().ok()),
        Some("999"),
        "the upstream's pacing headers are relayed on pass-through"
    );
    let _ = resp.body().await;
}

#[actix_web::test]
async fn every_429_says_when_to_retry_in_whole_seconds() {
    let backend = Backend::sqlite();
    let mock = Mock::start();
    let gw = Gateway::start(&backend, &[]);
    gw.add_provider("open", &mock, json!(["m"]), &["sk-protocol-0003"])
        .await;
    add_claude(&gw, &mock, "sk-ant-protocol-0004").await;
    let retry_after = |resp: &awc::ClientResponse<_>| -> Option<u64> {
        resp.headers()
            .get("retry-after")?
            .to_str()
            .ok()?
            .parse()
            .ok()
    };
    let post = |token: String, path: &'static str, body: Value| {
        let url = gw.url(path);
        async move {
            let resp = client()
                .post(url)
                .insert_header(("authorization", format!("Bearer {token}")))
                .insert_header(("anthropic-version", "2023-06-01"))
                .send_json(&body)
                .await
                .unwrap();
            resp
        }
    };
    // rpm: the minute has room again within a minute.
    let (_, rpm) = token_with(&gw, json!({"rpm": 1})).await;
    assert_eq!(
        post(rpm.clone(), "/v1/chat/completions", chat("m"))
            .await
            .status(),
        200
    );
    let refused = post(rpm.clone(), "/v1/chat/completions", chat("m")).await;
    assert_eq!(refused.status(), 429);
    let secs = retry_after(&refused).expect("rpm 429 without Retry-After");
    assert!((1..=60).contains(&secs), "{secs}");
    // The same on /v1/messages, in Anthropic's shape.
    let anthropic = json!({"model": "claude-x", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]});
    let refused = post(rpm, "/v1/messages", anthropic.clone()).await;
    assert_eq!(refused.status(), 429);
    assert!(retry_after(&refused).is_some_and(|s| (1..=60).contains(&s)));
    // A spent daily budget: until midnight in budgets.timezone (at most a day).
    let (_, daily) = token_with(&gw, json!({"max_tokens": 60, "budget_period": "daily"})).await;
    let refused = loop {
        let resp = post(daily.clone(), "/v1/chat/completions", chat("m")).await;
        if resp.status() == 429 {
            break resp;
        }
    };
    let secs = retry_after(&refused).expect("budget 429 without Retry-After");
    let midnight = 86_400 - (unix_ms() / 1000 % 86_400) as u64;
    assert!(secs.abs_diff(midnight) <= 2, "{secs} vs {midnight}");
    // A spent lifetime budget: an hour (it comes back only when an admin raises it).
    let (_, lifetime) = token_with(&gw, json!({"max_tokens": 60})).await;
    let refused = loop {
        let resp = post(lifetime.clone(), "/v1/chat/completions", chat("m")).await;
        if resp.status() == 429 {
            break resp;
        }
    };
    assert_eq!(retry_after(&refused), Some(3600));
}

/// A stream translated for an Anthropic client pings while the upstream is silent
/// (`upstream.stream_ping_secs`, 1 s here), only after `message_start`, and still ends with
/// one `content_block_stop` per block, `message_delta` and `message_stop`.
#[actix_web::test]
async fn translated_anthropic_streams_ping_while_the_upstream_is_silent() {
    let backend = Backend::sqlite();
    let mock = Mock::start();
    let gw = Gateway::start(&backend, &[("GATEWAY__UPSTREAM__STREAM_PING_SECS", "1")]);
    gw.add_provider("open", &mock, json!(["gpt-4o-mini"]), &["sk-protocol-0005"])
        .await;
    // Every chunk of the OpenAI-type upstream 1.5 s after the last.
    mock.fault(json!({"chunk_delay_ms": 1500, "times": 1}))
        .await;
    let body = json!({"model": "gpt-4o-mini", "max_tokens": 3, "stream": true,
                      "messages": [{"role": "user", "content": "hi"}]});
    let mut resp = client()
        .post(gw.url("/v1/messages"))
        .insert_header(("x-api-key", gw.admin.as_str()))
        .insert_header(("anthropic-version", "2023-06-01"))
        .timeout(std::time::Duration::from_secs(60))
        .send_json(&body)
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = String::from_utf8(resp.body().limit(1 << 20).await.unwrap().to_vec()).unwrap();
    let events: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert!(
        events.contains(&"ping"),
        "no ping in a silent stream: {events:?}"
    );
    let first_ping = events.iter().position(|e| *e == "ping").unwrap();
    assert!(first_ping > 0 && events[0] == "message_start", "{events:?}");
    let count = |name: &str| events.iter().filter(|e| **e == name).count();
    assert_eq!(
        count("content_block_start"),
        count("content_block_stop"),
        "{events:?}"
    );
    assert_eq!(count("message_stop"), 1);
    assert_eq!(events.last(), Some(&"message_stop"), "{events:?}");
    assert_eq!(events[events.len() - 2], "message_delta", "{events:?}");
}

/// `anthropic-*` headers are an open list on pass-through: every one an Anthropic client
/// sends (each value of a repeated one) reaches the Anthropic upstream with the body fields
/// they switch on, untouched; translated to an OpenAI-type provider, neither half goes. An
/// upstream's refusal passed through keeps its pacing headers.
#[actix_web::test]
async fn anthropic_headers_and_the_fields_they_switch_on_pass_as_pairs() {
    let backend = Backend::sqlite();
    let mock = Mock::start();
    let gw = Gateway::start(&backend, &[]);
    add_claude(&gw, &mock, "sk-ant-protocol-0006").await;
    gw.add_provider("open", &mock, json!(["gpt-4o-mini"]), &["sk-protocol-0007"])
        .await;
    let (_, token) = token_with(&gw, json!({})).await;
    let body = |model: &str| {
        json!({"model": model, "max_tokens": 64,
            "context_management": {"edits": [{"type": "clear_tool_uses_20250919"}]},
            "output_config": {"effort": "low"},
            "tools": [{"name": "Read", "description": "reads", "strict": true, "defer_loading": true,
                       "input_schema": {"type": "object", "properties": {}}}],
            "system": [{"type": "text", "text": "be brief",
                        "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
            "messages": [{"role": "user", "content": "hi"}]})
    };
    let send = |model: &'static str| {
        let url = gw.url("/v1/messages");
        let token = token.clone();
        let body = body(model);
        async move {
            let mut resp = client()
                .post(url)
                .insert_header(("x-api-key", token.as_str()))
                .insert_header(("anthropic-version", "2023-06-01"))
                .append_header(("anthropic-beta", "context-management-2025-06-27"))
                .append_header(("anthropic-beta", "extended-cache-ttl-2025-04-11"))
                .insert_header(("anthropic-future-header", "on"))
                .insert_header(("x-other", "not forwarded"))
                .send_json(&body)
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let pacing = resp
                .headers()
                .get("anthropic-ratelimit-requests-remaining")
                .map(|v| v.to_str().unwrap().to_string());
            let _ = resp.body().await;
            (status, pacing)
        }
    };
    let (status, _) = send("claude-sonnet-4-5").await;
    assert_eq!(status, 200);
    let sent = mock.last_request().await;
    assert_eq!(
        sent["body"],
        body("claude-sonnet-4-5"),
        "the body passes whole"
    );
    let headers: Vec<(String, String)> =
        serde_json::from_value(sent["anthropic_headers"].clone()).unwrap();
    for pair in [
        ("anthropic-version", "2023-06-01"),
        ("anthropic-beta", "context-management-2025-06-27"),
        ("anthropic-beta", "extended-cache-ttl-2025-04-11"),
        ("anthropic-future-header", "on"),
    ] {
        let pair = (pair.0.to_string(), pair.1.to_string());
        assert!(headers.contains(&pair), "{pair:?} missing from {headers:?}");
    }
    assert_eq!(
        headers
            .iter()
            .filter(|(n, _)| n == "anthropic-version")
            .count(),
        1,
        "{headers:?}"
    );
    // Translated: neither the beta headers nor the fields they switch on reach OpenAI.
    let (status, _) = send("gpt-4o-mini").await;
    assert_eq!(status, 200);
    let sent = mock.last_request().await;
    assert_eq!(sent["path"], "/v1/chat/completions");
    assert_eq!(sent["anthropic_headers"], json!([]), "{sent}");
    for field in ["context_management", "output_config"] {
        assert!(sent["body"].get(field).is_none(), "{field} in {sent}");
    }
    assert!(sent["body"]["tools"][0]["function"]
        .get("defer_loading")
        .is_none());
    // The upstream refuses the request: its answer and its pacing headers come through.
    mock.fault(json!({"key": "sk-ant-protocol-0006", "status": 400, "message": "no such beta", "times": 1}))
        .await;
    let (status, pacing) = send("claude-sonnet-4-5").await;
    assert_eq!(status, 400);
    assert_eq!(
        pacing.as_deref(),
        Some("999"),
        "pacing headers of a refusal"
    );
}
