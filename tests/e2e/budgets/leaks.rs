//! Money that cannot leak (contract section 3, "Budgets" and "Upstream answers"): every
//! budgeted call is capped in the field its upstream reads, money budgets never meet a
//! model without a price, token counting is metered, slow answers are not generated twice,
//! cut streams are billed for what was relayed, and a provider recovers after a blip.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;

#[actix_web::test]
async fn every_budgeted_call_is_capped_in_the_field_its_upstream_reads() {
    let backend = Backend::sqlite();
    let mock = Mock::start();
    let gw = Gateway::start(&backend, &[]);
    // Any model, none priced: the price book knows no maximum output.
    gw.add_provider("open", &mock, Value::Null, &["sk-open-cap-0001"])
        .await;
    let deepseek = format!("{}/deepseek", mock.base);
    gw.add_typed_provider(
        "ds",
        "deepseek",
        &deepseek,
        Value::Null,
        &["sk-ds-cap-0001"],
    )
    .await;
    add_claude(&gw, &mock, "sk-ant-cap-0001").await;
    let db = backend.connect().await;
    let (id, budgeted) = token_with(&gw, json!({"max_tokens": 3000})).await;

    // The mock's "model" writes 6,000 tokens unless capped.
    let mut body = chat("open/unknown-model");
    body["mock"] = json!({"default_tokens": 6000});
    let (status, answer) = gw.post("/v1/chat/completions", &budgeted, &body).await;
    assert_eq!(status, 200, "{answer}");
    let sent = mock.last_request().await["body"].clone();
    let cap = sent["max_completion_tokens"]
        .as_i64()
        .expect("a cap is sent");
    assert!(
        cap <= 1024,
        "at most accounting.default_completion_tokens: {sent}"
    );
    assert!(answer["usage"]["completion_tokens"].as_i64().unwrap() <= cap);

    // DeepSeek reads max_tokens only: a client's max_completion_tokens is moved there.
    let mut body = chat("ds/deepseek-chat");
    body["mock"] = json!({"default_tokens": 6000});
    body["max_completion_tokens"] = json!(500);
    let (status, answer) = gw.post("/v1/chat/completions", &budgeted, &body).await;
    assert_eq!(status, 200, "{answer}");
    let sent = mock.last_request().await["body"].clone();
    assert_eq!(sent["max_tokens"], 500, "{sent}");
    assert!(sent.get("max_completion_tokens").is_none(), "{sent}");
    assert_eq!(answer["usage"]["completion_tokens"], 500);

    // The Anthropic fallback never exceeds the allowance.
    let mut body = chat("claude/claude-unknown");
    body["mock"] = json!({"default_tokens": 6000});
    let (status, answer) = gw.post("/v1/chat/completions", &budgeted, &body).await;
    assert_eq!(status, 200, "{answer}");
    let sent = mock.last_request().await["body"].clone();
    assert!(sent["max_tokens"].as_i64().unwrap() <= 1024, "{sent}");

    let rows = rows_of(&db, id, 3).await;
    let used: i64 = rows.iter().map(|r| r.total_tokens).sum();
    assert!(used <= 3000, "{used} tokens used of a 3000-token budget");

    // Anthropic pass-through: a thinking budget stays below the lowered max_tokens, or
    // thinking goes when no room is left (the real API refuses either otherwise).
    let thinking = json!({"model": "claude/claude-sonnet-4", "max_tokens": 16000,
        "thinking": {"type": "enabled", "budget_tokens": 8000},
        "messages": [{"role": "user", "content": "Think, then answer."}]});
    let (_, roomy) = token_with(&gw, json!({"max_tokens": 3000})).await;
    let (status, answer) = anthropic_call(&gw, "/v1/messages", &roomy, &thinking).await;
    assert_eq!(status, 200, "{answer}");
    let sent = mock.last_request().await["body"].clone();
    let max = sent["max_tokens"].as_i64().unwrap();
    let budget = sent["thinking"]["budget_tokens"].as_i64().unwrap();
    assert!(max < 3000 && (1024..max).contains(&budget), "{sent}");
    let (_, tight) = token_with(&gw, json!({"max_tokens": 900})).await;
    let (status, answer) = anthropic_call(&gw, "/v1/messages", &tight, &thinking).await;
    assert_eq!(status, 200, "{answer}");
    let sent = mock.last_request().await["body"].clone();
    assert!(sent.get("thinking").is_none(), "{sent}");

    // Without a budget the request goes as the client wrote it.
    let (_, free) = token_with(&gw, json!({})).await;
    let mut body = chat("ds/deepseek-chat");
    body["max_completion_tokens"] = json!(7);
    let (status, _) = gw.post("/v1/chat/completions", &free, &body).await;
    assert_eq!(status, 200);
    let sent = mock.last_request().await["body"].clone();
    assert_eq!(sent["max_completion_tokens"], 7);
    assert!(sent.get("max_tokens").is_none(), "{sent}");
}

#[actix_web::test]
async fn money_budgets_never_call_an_unpriced_model() {
    for backend in Backend::all().await {
        let (mock, gw) = gateway_with_mock(
            &backend,
            &[],
            json!(["gpt-*", "free-*"]),
            &["sk-unpriced-0001"],
        )
        .await;
        price(&gw, "gpt-4o-mini", Some(4096)).await;
        let (_, money) = token_with(&gw, json!({"max_amount": 0.001})).await;
        let before = mock.stats().await["total"].as_u64().unwrap();
        let mut body = chat("free-model");
        body["mock"] = json!({"default_tokens": 5000});
        let (status, err) = gw.post("/v1/chat/completions", &money, &body).await;
        assert_error(
            status,
            &err,
            403,
            "permission_error",
            Some("model_not_priced"),
        );
        let message = err["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("free-model") && message.contains("/admin/model-prices"),
            "{message}"
        );
        // A priority tier costs more than the book's prices.
        let mut body = chat("gpt-4o-mini");
        body["service_tier"] = json!("priority");
        let (status, err) = gw.post("/v1/chat/completions", &money, &body).await;
        assert_error(
            status,
            &err,
            403,
            "permission_error",
            Some("model_not_priced"),
        );
        assert_eq!(mock.stats().await["total"].as_u64().unwrap(), before);
        // Priced calls still go, and tokens without a money budget keep missing_price.
        let (status, body) = gw
            .post("/v1/chat/completions", &money, &chat("gpt-4o-mini"))
            .await;
        assert_eq!(status, 200, "{body}");
        let (_, tokens_only) = token_with(&gw, json!({"max_tokens": 100000})).await;
        let (status, body) = gw
            .post("/v1/chat/completions", &tokens_only, &chat("free-model"))
            .await;
        assert_eq!(status, 200, "{body}");
        // The Messages dialect refuses the same way.
        let (status, err) = anthropic_call(
            &gw,
            "/v1/messages",
            &money,
            &json!({"model": "free-model", "max_tokens": 100,
                "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
        assert_eq!(status, 403, "{err}");
        assert_eq!(err["error"]["type"], "permission_error");
        backend.drop_database().await;
    }
}

#[actix_web::test]
async fn count_tokens_is_a_metered_call() {
    let backend = Backend::sqlite();
    let mock = Mock::start();
    let gw = Gateway::start(&backend, &[]);
    add_claude(&gw, &mock, "sk-ant-count-0001").await;
    gw.add_provider("oai", &mock, json!(["gpt-4o-mini"]), &["sk-oai-count-0001"])
        .await;
    let db = backend.connect().await;
    let count = |model: &str| json!({"model": model, "messages": [{"role": "user", "content": "How many tokens?"}]});
    let path = "/v1/messages/count_tokens";

    // rpm 1: one upstream call in ten; the rest are refused without one.
    let (id, limited) = token_with(&gw, json!({"rpm": 1})).await;
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(
            anthropic_call(&gw, path, &limited, &count("claude-x"))
                .await
                .0,
        );
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        9,
        "{statuses:?}"
    );
    assert_eq!(mock.stats().await["by_path"][path], 1);
    let rows = rows_of(&db, id, 10).await;
    assert!(rows.iter().all(|r| r.endpoint == "count_tokens"));
    assert!(rows
        .iter()
        .all(|r| r.amount_nano == 0 && r.total_tokens == 0));

    // Other provider types: estimated here, logged too.
    let (id, open) = token_with(&gw, json!({})).await;
    let (status, answer) = anthropic_call(&gw, path, &open, &count("gpt-4o-mini")).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["input_tokens"].as_i64().unwrap() > 0);
    assert_eq!(mock.stats().await["by_path"][path], 1, "no upstream call");
    rows_of(&db, id, 1).await;

    // A 429 on counting does not cool the key for generation.
    mock.fault(json!({"model": "claude-x", "status": 429, "times": 1}))
        .await;
    let (status, _) = anthropic_call(&gw, path, &open, &count("claude-x")).await;
    assert!(status >= 429, "{status}");
    let (status, answer) = anthropic_call(
        &gw,
        "/v1/messages",
        &open,
        &json!({"model": "claude-x", "max_tokens": 20,
            "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(status, 200, "the key still serves: {answer}");
}

#[actix_web::test]
async fn a_slow_whole_answer_is_generated_once() {
    let backend = Backend::sqlite();
    let (mock, gw) = gateway_with_mock(
        &backend,
        &[
            ("GATEWAY__UPSTREAM__FIRST_BYTE_TIMEOUT_SECS", "1"),
            ("GATEWAY__UPSTREAM__REQUEST_TIMEOUT_SECS", "4"),
        ],
        json!(["gpt-4o-mini"]),
        &["sk-slow-0001", "sk-slow-0002", "sk-slow-0003"],
    )
    .await;
    let (_, token) = token_with(&gw, json!({})).await;
    // Its headers come after 2 s: past the first-byte timeout, within the deadline.
    mock.fault(json!({"delay_ms": 2000, "times": 1})).await;
    let (status, body) = gw
        .post("/v1/chat/completions", &token, &chat("gpt-4o-mini"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(mock.stats().await["total"], 1);

    // Past the deadline: 504, asked of one key only.
    mock.reset().await;
    mock.fault(json!({"delay_ms": 6000, "times": 3})).await;
    let (status, body) = gw
        .post("/v1/chat/completions", &token, &chat("gpt-4o-mini"))
        .await;
    assert_error(status, &body, 504, "upstream_error", None);
    assert_eq!(mock.stats().await["total"], 1, "generated once");
    let (_, keys) = gw.get("/providers/mock/keys", &gw.admin).await;
    let failures: u64 = keys
        .as_array()
        .or_else(|| keys["data"].as_array())
        .unwrap()
        .iter()
        .map(|k| k["failures"].as_u64().unwrap())
        .sum();
    assert_eq!(failures, 1, "one failure on one key: {keys}");
}

#[actix_web::test]
async fn a_cut_stream_is_billed_for_what_was_relayed() {
    let backend = Backend::sqlite();
    let mock = Mock::start();
    let gw = Gateway::start(&backend, &[]);
    add_claude(&gw, &mock, "sk-ant-cut-0001").await;
    let db = backend.connect().await;
    let (id, token) = token_with(&gw, json!({})).await;
    // 1,500 deltas, cut before message_delta: only message_start's output_tokens (1) was
    // reported.
    mock.fault(json!({"cut_after_chunks": 1400, "times": 1}))
        .await;
    let body = json!({"model": "claude-cut", "max_tokens": 4000, "stream": true,
        "mock": {"default_tokens": 1500},
        "messages": [{"role": "user", "content": "Write a lot."}]});
    let (status, text) = anthropic_call(&gw, "/v1/messages", &token, &body).await;
    assert_eq!(status, 200);
    assert!(text.as_str().unwrap().contains("tok1300 "));
    let row = rows_of(&db, id, 1).await.remove(0);
    assert!(
        row.completion_tokens >= 1300,
        "billed {} completion tokens for ~1,390 relayed deltas",
        row.completion_tokens
    );
}

#[actix_web::test]
async fn a_provider_serves_again_right_after_a_blip() {
    let backend = Backend::sqlite();
    let (mock, gw) = gateway_with_mock(
        &backend,
        &[],
        json!(["gpt-4o-mini"]),
        &["sk-blip-0001", "sk-blip-0002"],
    )
    .await;
    let (_, token) = token_with(&gw, json!({})).await;
    // Each key answers one 429 without Retry-After; then the upstream has recovered.
    mock.fault(json!({"status": 429, "times": 2})).await;
    let (status, _) = gw
        .post("/v1/chat/completions", &token, &chat("gpt-4o-mini"))
        .await;
    assert_eq!(status, 502, "both keys refused");
    // A slow probe holds the one probe slot: a call meanwhile gets 503 with Retry-After.
    mock.fault(json!({"delay_ms": 1500, "times": 1})).await;
    let probe_body = chat("gpt-4o-mini");
    let probe = gw.post("/v1/chat/completions", &token, &probe_body);
    let other = async {
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        let resp = client()
            .post(gw.url("/v1/chat/completions"))
            .insert_header(("authorization", format!("Bearer {token}")))
            .send_json(&chat("gpt-4o-mini"))
            .await
            .unwrap();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        (resp.status().as_u16(), retry_after)
    };
    let ((probe_status, probe_body), (other_status, retry_after)) = futures::join!(probe, other);
    assert_eq!(probe_status, 200, "the probe is served: {probe_body}");
    assert_eq!(other_status, 503, "{}", mock.stats().await);
    assert!(
        retry_after.is_some_and(|s| (1..=30).contains(&s)),
        "{retry_after:?}"
    );
    // Recovered: every call is served again, well within routing.cooldown_secs.
    for _ in 0..4 {
        let (status, body) = gw
            .post("/v1/chat/completions", &token, &chat("gpt-4o-mini"))
            .await;
        assert_eq!(status, 200, "{body}");
    }
}

#[actix_web::test]
async fn metrics_labels_are_bounded_and_metrics_can_be_closed() {
    let backend = Backend::sqlite();
    let (_mock, gw) = gateway_with_mock(
        &backend,
        &[("GATEWAY__SERVER__METRICS_TOKEN", "scrape-secret-1234")],
        Value::Null,
        &["sk-metrics-0001"],
    )
    .await;
    price(&gw, "gpt-4o-mini", None).await;
    let (_, token) = token_with(&gw, json!({})).await;
    for i in 0..40 {
        let model = format!("random-model-{i:04}-{:08x}", rand::random::<u32>());
        let (status, _) = gw.post("/v1/chat/completions", &token, &chat(&model)).await;
        assert_eq!(status, 200);
    }
    let (status, _) = gw
        .post("/v1/chat/completions", &token, &chat("gpt-4o-mini"))
        .await;
    assert_eq!(status, 200);
    let (status, _) = send_raw("GET", &gw.url("/metrics"), None, None, Vec::new()).await;
    assert_eq!(status, 401, "closed without the token");
    let (status, _) = send_raw("GET", &gw.url("/metrics"), Some("wrong"), None, Vec::new()).await;
    assert_eq!(status, 401);
    let (status, text) = send_raw(
        "GET",
        &gw.url("/metrics"),
        Some("scrape-secret-1234"),
        None,
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200);
    let text = String::from_utf8(text).unwrap();
    assert!(
        !text.contains("random-model-"),
        "client-chosen names in labels"
    );
    assert!(text.contains("model=\"other\""), "{text}");
    assert!(
        text.contains("model=\"gpt-4o-mini\""),
        "priced models keep their name"
    );
}

#[actix_web::test]
async fn claude_code_requests_translate_to_openai_type_providers() {
    let backend = Backend::sqlite();
    let (mock, gw) =
        gateway_with_mock(&backend, &[], json!(["gpt-4o-mini"]), &["sk-cc-0001"]).await;
    let (_, token) = token_with(&gw, json!({})).await;
    // Claude Code 2.1's shape: system entries inside messages, documents, search results,
    // thinking blocks from earlier turns.
    let body = json!({"model": "gpt-4o-mini", "max_tokens": 200,
        "system": [{"type": "text", "text": "You are Claude Code."}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Read this."},
                {"type": "document", "title": "notes.txt",
                 "source": {"type": "text", "media_type": "text/plain", "data": "alpha beta"}},
                {"type": "search_result", "source": "https://example.com", "title": "Example",
                 "content": [{"type": "text", "text": "gamma"}]}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Hmm.", "signature": "sig"},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "text", "text": "Done reading."}]},
            {"role": "system", "content": "<system-reminder>Be brief.</system-reminder>"},
            {"role": "user", "content": "Summarise."}]});
    let (status, answer) = anthropic_call(&gw, "/v1/messages", &token, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["type"], "message");
    let sent = mock.last_request().await["body"].clone();
    let roles: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "system", "user"]);
    let text = sent.to_string();
    assert!(
        text.contains("alpha beta") && text.contains("gamma"),
        "{text}"
    );
    assert!(
        !text.contains("opaque"),
        "redacted thinking is Anthropic's only"
    );

    // A server tool's result cannot be translated: a 400 that names it.
    let mut body = body;
    body["messages"][1]["content"] = json!([{"type": "web_search_tool_result",
        "tool_use_id": "srvtoolu_1", "content": []}]);
    let (status, err) = anthropic_call(&gw, "/v1/messages", &token, &body).await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["type"], "error");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("web_search_tool_result"),
        "{err}"
    );
}
