//! Attempts as spans: failover as several, a stream the client cuts ended with the reason.

use serde_json::json;

use super::*;

#[actix_web::test]
async fn failover_shows_as_attempts_and_a_cut_stream_ends_its_span_with_the_reason() {
    if !otlp_ready() {
        return;
    }
    let backend = Backend::sqlite();
    let receiver = OtlpReceiver::start(&[]);
    let mock = Mock::start();
    let gw = traced(&backend, &receiver, &[]);
    gw.add_provider(
        "mock",
        &mock,
        json!(["gpt-4o-mini"]),
        &["sk-fail-key-0001", "sk-good-key-0002"],
    )
    .await;
    let token = gw.token(&backend, &["--name", "failover"]);
    mock.fault(json!({"key": "sk-fail-key-0001", "status": 500}))
        .await;
    // Round robin may start on either key: call until one call failed over.
    let mut failed_over = None;
    for i in 0..4 {
        let trace = format!("{:032x}", 0xabc0 + i);
        let (status, body) = call_in_trace(
            &gw,
            "/v1/chat/completions",
            &token,
            &trace,
            &chat("gpt-4o-mini"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let spans = receiver.trace(&trace, 2).await;
        if span_of_kind(&spans, CLIENT).len() == 2 {
            failed_over = Some(trace);
            break;
        }
    }
    let trace = failed_over.expect("a call that failed over");
    let (server, attempts) = spans_of(&receiver, &trace, 2).await;
    assert_eq!(attr(&server, "gateway.attempts"), 2);
    let (first, second) = (&attempts[0], &attempts[1]);
    for a in [first, second] {
        assert_eq!(a["parent_span_id"], server["span_id"]);
    }
    assert_eq!(attr(first, "error.type"), "500");
    assert_eq!(attr(first, "http.response.status_code"), 500);
    assert_eq!(first["status"]["code"], STATUS_ERROR);
    assert_eq!(attr(first, "gateway.attempt"), 1);
    assert!(attr(second, "error.type").is_null());
    assert_eq!(attr(second, "gateway.attempt"), 2);
    assert_eq!(attr(second, "gateway.upstream_key.masked"), "sk-g****0002");
    assert!(first["end_ns"].as_u64() <= second["start_ns"].as_u64());
    // The upstream's second request named the second attempt as its parent.
    let sent = mock.last_request().await["trace_headers"].clone();
    let parent = format!("00-{trace}-{}-01", second["span_id"].as_str().unwrap());
    assert_eq!(sent, json!([["traceparent", parent]]));

    // A stream the client leaves: the span ends then, with the reason.
    mock.fault(json!({})).await;
    let cut_trace = "0af7651916cd43dd8448eb211c80319c";
    let tp = client_parent(cut_trace);
    {
        use futures::StreamExt;
        let mut resp = client()
            .post(gw.url("/v1/chat/completions"))
            .insert_header(("authorization", format!("Bearer {token}")))
            .insert_header(("traceparent", tp.as_str()))
            .send_json(
                &json!({"model": "gpt-4o-mini", "stream": true, "max_tokens": 500,
                "messages": [{"role": "user", "content": "long"}],
                "mock": {"chunk_delay_ms": 100}}),
            )
            .await
            .unwrap();
        let first = resp.next().await.unwrap().unwrap();
        assert!(!first.is_empty());
    }
    let (server, attempts) = spans_of(&receiver, cut_trace, 1).await;
    assert_eq!(
        attr(&server, "gateway.stream.cut_reason"),
        "client_disconnected"
    );
    assert_eq!(attr(&server, "error.type"), "client_disconnected");
    assert_eq!(attr(&server, "http.response.status_code"), 499);
    assert_eq!(attr(&server, "gateway.stream"), true);
    assert_eq!(server["status"]["code"], STATUS_ERROR);
    let events: Vec<&str> = server["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["gen_ai.first_token"]);
    assert!(attr(&server, "gateway.time_to_first_token_ms")
        .as_i64()
        .is_some());
    assert_eq!(attr(&attempts[0], "error.type"), "client_disconnected");
    // Billed for what was relayed, as the log row says.
    assert!(
        attr(&server, "gen_ai.usage.output_tokens")
            .as_i64()
            .unwrap()
            > 0
    );
    let ended = server["end_ns"].as_u64().unwrap() - server["start_ns"].as_u64().unwrap();
    assert!(
        ended < 10_000_000_000,
        "the cut stream's span lasted {ended} ns"
    );
    backend.drop_database().await;
}
