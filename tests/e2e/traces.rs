//! Traces over OTLP: a real receiver (the official `opentelemetry-proto` package) decodes
//! what the gateway exports — the server span of each call and one client span per
//! upstream attempt, named and attributed after the GenAI semantic conventions, in the
//! client's trace when it sent one — while the upstream sees the attempt's span as its
//! parent and the log row keeps the trace id.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::*;

const CLIENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";
const SERVER: i64 = 2;
const CLIENT: i64 = 3;
const STATUS_ERROR: i64 = 2;

fn traced(backend: &Backend, receiver: &OtlpReceiver, extra: &[(&str, &str)]) -> Gateway {
    let endpoint = receiver.endpoint();
    let mut env = vec![
        ("GATEWAY__TELEMETRY__OTLP_ENDPOINT", endpoint.as_str()),
        ("GATEWAY__TELEMETRY__EXPORT_INTERVAL_MS", "50"),
    ];
    env.extend_from_slice(extra);
    Gateway::start(backend, &env)
}

fn attr<'a>(span: &'a Value, name: &str) -> &'a Value {
    &span["attributes"][name]
}

async fn call(
    gw: &Gateway,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> (u16, Value) {
    let mut req = client()
        .post(gw.url(path))
        .insert_header(("authorization", format!("Bearer {token}")))
        .insert_header(("anthropic-version", "2023-06-01"));
    for (name, value) in headers {
        req = req.insert_header((*name, *value));
    }
    let mut resp = req.send_json(body).await.unwrap();
    let raw = resp.body().limit(1 << 20).await.unwrap();
    let body =
        serde_json::from_slice(&raw).unwrap_or(Value::String(String::from_utf8_lossy(&raw).into()));
    (resp.status().as_u16(), body)
}

/// The server span and the attempt spans (in start order) of `trace_id`.
async fn spans_of(receiver: &OtlpReceiver, trace_id: &str, attempts: usize) -> (Value, Vec<Value>) {
    let spans = receiver.trace(trace_id, attempts + 1).await;
    let server = span_of_kind(&spans, SERVER);
    assert_eq!(server.len(), 1, "{spans:#?}");
    let attempts_seen = span_of_kind(&spans, CLIENT);
    assert_eq!(attempts_seen.len(), attempts, "{spans:#?}");
    (server[0].clone(), attempts_seen)
}

#[actix_web::test]
async fn a_chat_calls_spans_follow_the_genai_conventions_and_the_clients_trace() {
    if !otlp_ready() {
        return;
    }
    for backend in Backend::all().await {
        let receiver = OtlpReceiver::start(&[]);
        let mock = Mock::start();
        let gw = traced(
            &backend,
            &receiver,
            &[
                ("GATEWAY__TELEMETRY__SERVICE_NAME", "gz-test"),
                (
                    "GATEWAY__TELEMETRY__HEADERS__AUTHORIZATION",
                    "Bearer otlp-secret",
                ),
                (
                    "GATEWAY__TELEMETRY__TRACE_URL_TEMPLATE",
                    "https://tempo.example/trace/{trace_id}?x=1",
                ),
            ],
        );
        gw.add_provider(
            "mock",
            &mock,
            json!(["gpt-4o-mini"]),
            &["sk-trace-key-0001"],
        )
        .await;
        let token = gw.token(&backend, &["--name", "traced-token"]);
        let traceparent = format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-01");
        let body = json!({"model": "gpt-4o-mini", "max_tokens": 20,
                          "messages": [{"role": "user", "content": "a secret prompt"}]});
        let headers = [
            ("traceparent", traceparent.as_str()),
            ("tracestate", "rojo=1"),
        ];
        let (status, answer) = call(&gw, "/v1/chat/completions", &token, &headers, &body).await;
        assert_eq!(status, 200, "{answer}");

        let (server, attempts) = spans_of(&receiver, CLIENT_TRACE, 1).await;
        let attempt = &attempts[0];
        // The server span continues the client's trace; the attempt is its child.
        assert_eq!(server["parent_span_id"], CLIENT_SPAN);
        assert_eq!(attempt["parent_span_id"], server["span_id"]);
        assert_eq!(server["name"], "chat gpt-4o-mini");
        assert_eq!(attempt["name"], "chat gpt-4o-mini");
        assert_eq!(server["resource"]["service.name"], "gz-test");
        // The upstream's parent is the attempt's span, with the client's tracestate.
        let sent = mock.last_request().await["trace_headers"].clone();
        let upstream_parent = format!(
            "00-{CLIENT_TRACE}-{}-01",
            attempt["span_id"].as_str().unwrap()
        );
        assert_eq!(
            sent,
            json!([["traceparent", upstream_parent], ["tracestate", "rojo=1"]])
        );

        let db = backend.connect().await;
        let row = eventually(Duration::from_secs(3), || async {
            rows(&db).await.into_iter().next()
        })
        .await
        .expect("a log row");
        assert_eq!(row.trace_id.as_deref(), Some(CLIENT_TRACE));
        for span in [&server, attempt] {
            assert_eq!(attr(span, "gen_ai.operation.name"), "chat");
            assert_eq!(attr(span, "gen_ai.provider.name"), "openai");
            assert_eq!(attr(span, "gen_ai.request.model"), "gpt-4o-mini");
            assert_eq!(attr(span, "gen_ai.response.model"), "gpt-4o-mini");
            assert_eq!(attr(span, "gen_ai.response.id"), "chatcmpl-mock");
            assert_eq!(
                attr(span, "gen_ai.response.finish_reasons"),
                &json!(["stop"])
            );
            assert_eq!(attr(span, "gen_ai.usage.input_tokens"), row.prompt_tokens);
            assert_eq!(
                attr(span, "gen_ai.usage.output_tokens"),
                row.completion_tokens
            );
            assert!(row.completion_tokens > 0);
            // Content is never exported unless asked for.
            assert!(attr(span, "gen_ai.input.messages").is_null());
            assert!(!span.to_string().contains("a secret prompt"));
            assert!(!span.to_string().contains("sk-trace-key-0001"));
        }
        assert_eq!(attr(&server, "gen_ai.request.max_tokens"), 20);
        assert_eq!(attr(&server, "gateway.token.name"), "traced-token");
        assert_eq!(attr(&server, "gateway.token.id"), row.token_id.unwrap());
        assert_eq!(attr(&server, "gateway.request.id"), row.request_id.as_str());
        assert_eq!(attr(&server, "gateway.budget.outcome"), "admitted");
        assert_eq!(attr(&server, "gateway.endpoint"), "chat.completions");
        assert_eq!(attr(&server, "gateway.attempts"), 1);
        assert_eq!(attr(&server, "http.response.status_code"), 200);
        let cost = attr(&server, "gateway.cost.usd").as_f64().unwrap();
        assert!(
            (cost - row.amount_nano as f64 / 1e9).abs() < 1e-12,
            "{cost}"
        );
        let port: u16 = mock.base.rsplit(':').next().unwrap().parse().unwrap();
        assert_eq!(attr(attempt, "server.address"), "127.0.0.1");
        assert_eq!(attr(attempt, "server.port"), port);
        assert_eq!(attr(attempt, "http.response.status_code"), 200);
        assert_eq!(attr(attempt, "gateway.upstream_key.masked"), "sk-t****0001");
        assert_eq!(server["status"]["code"], 0);

        // The console's link from the log row to the trace.
        let (status, view) = gw
            .admin_send(
                "GET",
                &format!("/admin/logs/requests/{}", row.id),
                &Value::Null,
            )
            .await;
        assert_eq!(status, 200, "{view}");
        assert_eq!(
            view["trace_url"],
            format!("https://tempo.example/trace/{CLIENT_TRACE}?x=1")
        );

        // No traceparent: a new trace, its id on the row.
        let (status, _) = call(&gw, "/v1/chat/completions", &token, &[], &body).await;
        assert_eq!(status, 200);
        let newest = eventually(Duration::from_secs(3), || async {
            rows(&db)
                .await
                .into_iter()
                .find(|r| r.trace_id.as_deref() != Some(CLIENT_TRACE))
        })
        .await
        .expect("the second row");
        let new_trace = newest
            .trace_id
            .clone()
            .expect("a traced call's row keeps its trace id");
        let (root, _) = spans_of(&receiver, &new_trace, 1).await;
        assert_eq!(root["parent_span_id"], "");
        let sent = mock.last_request().await["trace_headers"].clone();
        assert!(
            sent[0][1]
                .as_str()
                .unwrap()
                .starts_with(&format!("00-{new_trace}-")),
            "{sent}"
        );

        // Every export carried the configured headers; the counters say what went.
        let exports = receiver.exports().await;
        assert!(!exports.is_empty());
        for export in &exports {
            assert_eq!(export["headers"]["authorization"], "Bearer otlp-secret");
            assert_eq!(export["headers"]["content-type"], "application/x-protobuf");
        }
        assert!(metric(&gw, "gateway_trace_spans_exported_total", &[]).await >= 4.0);
        assert_eq!(
            metric(&gw, "gateway_trace_spans_dropped_total", &[]).await,
            0.0
        );
        assert!(
            !gw.logs().contains("otlp-secret"),
            "the export header reached the log"
        );
        backend.drop_database().await;
    }
}

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
        let tp = format!("00-{trace}-{CLIENT_SPAN}-01");
        let (status, body) = call(
            &gw,
            "/v1/chat/completions",
            &token,
            &[("traceparent", tp.as_str())],
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
    let tp = format!("00-{cut_trace}-{CLIENT_SPAN}-01");
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

#[actix_web::test]
async fn translated_calls_and_responses_and_captured_content() {
    if !otlp_ready() {
        return;
    }
    let backend = Backend::sqlite();
    let receiver = OtlpReceiver::start(&[]);
    let mock = Mock::start();
    let gw = traced(
        &backend,
        &receiver,
        &[
            ("GATEWAY__TELEMETRY__CAPTURE_CONTENT", "true"),
            ("GATEWAY__TELEMETRY__MAX_CONTENT_BYTES", "64"),
        ],
    );
    gw.add_provider(
        "mock",
        &mock,
        json!(["gpt-4o-mini"]),
        &["sk-openai-key-001"],
    )
    .await;
    gw.add_typed_provider(
        "claude",
        "anthropic",
        &mock.v1(),
        json!(["claude-x"]),
        &["sk-ant-key-00001"],
    )
    .await;
    let token = gw.token(&backend, &["--name", "dialects"]);
    let traced_call = |n: u32| (format!("{:032x}", 0xd1a1_0000u64 + u64::from(n)), n);

    // Anthropic's Messages API translated to an OpenAI-type upstream.
    let (trace, _) = traced_call(1);
    let tp = format!("00-{trace}-{CLIENT_SPAN}-01");
    let long_prompt = "word ".repeat(100);
    let (status, body) = call(
        &gw,
        "/v1/messages",
        &token,
        &[("traceparent", tp.as_str())],
        &json!({"model": "gpt-4o-mini", "max_tokens": 16,
                "messages": [{"role": "user", "content": long_prompt}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (server, attempts) = spans_of(&receiver, &trace, 1).await;
    assert_eq!(attr(&server, "gateway.endpoint"), "messages");
    assert_eq!(attr(&server, "gen_ai.operation.name"), "chat");
    assert_eq!(attr(&attempts[0], "gen_ai.provider.name"), "openai");
    // Finish reasons as the upstream named them.
    assert_eq!(
        attr(&attempts[0], "gen_ai.response.finish_reasons"),
        &json!(["stop"])
    );
    assert_eq!(attr(&server, "gen_ai.request.max_tokens"), 16);
    // Content captured, each cut to 64 bytes (and an ellipsis).
    let input = attr(&server, "gen_ai.input.messages")
        .as_str()
        .expect("captured input");
    assert!(
        input.starts_with(r#"{"messages":[{"content":"word word"#),
        "{input}"
    );
    assert!(input.len() <= 64 + 3, "{} bytes", input.len());
    let output = attr(&server, "gen_ai.output.messages")
        .as_str()
        .expect("captured output");
    assert!(
        output.len() <= 64 + 3 && output.contains("text"),
        "{output}"
    );

    // OpenAI's Chat API translated to an Anthropic upstream, streamed.
    let (trace, _) = traced_call(2);
    let tp = format!("00-{trace}-{CLIENT_SPAN}-01");
    let (status, body) = call(
        &gw,
        "/v1/chat/completions",
        &token,
        &[("traceparent", tp.as_str())],
        &json!({"model": "claude-x", "stream": true,
                "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (server, attempts) = spans_of(&receiver, &trace, 1).await;
    assert_eq!(attr(&server, "gen_ai.provider.name"), "anthropic");
    assert_eq!(attr(&attempts[0], "gen_ai.provider.name"), "anthropic");
    assert_eq!(
        attr(&server, "gen_ai.response.finish_reasons"),
        &json!(["end_turn"])
    );
    assert_eq!(attr(&server, "gen_ai.response.id"), "msg_mock");
    assert_eq!(attr(&server, "gateway.stream"), true);
    assert_eq!(server["events"][0]["name"], "gen_ai.first_token");
    assert!(
        attr(&server, "gen_ai.usage.output_tokens")
            .as_i64()
            .unwrap()
            > 0
    );

    // The Responses API.
    let (trace, _) = traced_call(3);
    let tp = format!("00-{trace}-{CLIENT_SPAN}-01");
    let (status, body) = call(
        &gw,
        "/v1/responses",
        &token,
        &[("traceparent", tp.as_str())],
        &json!({"model": "gpt-4o-mini", "input": "hi", "max_output_tokens": 32}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (server, attempts) = spans_of(&receiver, &trace, 1).await;
    assert_eq!(attr(&server, "gateway.endpoint"), "responses");
    assert_eq!(server["name"], "chat gpt-4o-mini");
    assert_eq!(attr(&server, "gen_ai.request.max_tokens"), 32);
    assert_eq!(attr(&attempts[0], "gen_ai.response.id"), "chatcmpl-mock");
    assert_eq!(
        attr(&server, "gen_ai.usage.output_tokens"),
        &body["usage"]["output_tokens"]
    );
    assert_eq!(attr(&server, "gen_ai.input.messages"), r#"{"input":"hi"}"#);

    // The Responses API over the WebSocket Codex opens: one call per message, each its own
    // server span in the trace of the upgrade's traceparent.
    let (trace, _) = traced_call(5);
    let tp = format!("00-{trace}-{CLIENT_SPAN}-01");
    let url = gw.url("/v1/responses").replacen("http", "ws", 1);
    let (_, mut socket) = awc::Client::new()
        .ws(url.as_str())
        .header("authorization", format!("Bearer {token}"))
        .header("traceparent", tp.as_str())
        .connect()
        .await
        .expect("the upgrade");
    {
        use awc::ws::{Frame, Message};
        use futures::{SinkExt, StreamExt};
        let message =
            json!({"type": "response.create", "model": "claude-x", "input": "hi", "store": false});
        socket
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
        while let Some(frame) = socket.next().await {
            let Frame::Text(bytes) = frame.unwrap() else {
                continue;
            };
            let event: Value = serde_json::from_slice(&bytes).unwrap();
            if event["type"] == "response.completed" || event["type"] == "error" {
                assert_eq!(event["type"], "response.completed", "{event}");
                break;
            }
        }
    }
    let (server, attempts) = spans_of(&receiver, &trace, 1).await;
    assert_eq!(attr(&server, "gateway.endpoint"), "responses");
    assert_eq!(server["parent_span_id"], CLIENT_SPAN);
    assert_eq!(attr(&attempts[0], "gen_ai.provider.name"), "anthropic");
    assert_eq!(server["events"][0]["name"], "gen_ai.first_token");
    drop(socket);

    // A call admission refuses (a model outside the token's allow-list) is traced too.
    let (_, narrow) = token_with(
        &gw,
        json!({"name": "narrow", "allowed_models": ["claude-x"]}),
    )
    .await;
    let (trace, _) = traced_call(4);
    let tp = format!("00-{trace}-{CLIENT_SPAN}-01");
    let (status, _) = call(
        &gw,
        "/v1/chat/completions",
        &narrow,
        &[("traceparent", tp.as_str())],
        &chat("gpt-4o-mini"),
    )
    .await;
    assert_eq!(status, 403);
    let (server, _) = spans_of(&receiver, &trace, 0).await;
    assert_eq!(attr(&server, "gateway.budget.outcome"), "refused");
    assert_eq!(attr(&server, "http.response.status_code"), 403);
    assert!(attr(&server, "error.type").as_str().is_some());
    backend.drop_database().await;
}

#[actix_web::test]
async fn sampling_follows_the_ratio_and_the_clients_flag() {
    if !otlp_ready() {
        return;
    }
    let backend = Backend::sqlite();
    let receiver = OtlpReceiver::start(&[]);
    let mock = Mock::start();
    let gw = traced(
        &backend,
        &receiver,
        &[("GATEWAY__TELEMETRY__SAMPLE_RATIO", "0")],
    );
    gw.add_provider("mock", &mock, json!(["gpt-4o-mini"]), &["sk-sample-key-01"])
        .await;
    let token = gw.token(&backend, &["--name", "sampled"]);
    // Ratio 0: a new trace is not recorded, and nothing but the client's own context goes on.
    let (status, _) = call(
        &gw,
        "/v1/chat/completions",
        &token,
        &[],
        &chat("gpt-4o-mini"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(mock.last_request().await["trace_headers"], json!([]));
    // The client's unsampled trace is not recorded either; its context goes on as it came.
    let unsampled = format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-00");
    let (status, _) = call(
        &gw,
        "/v1/chat/completions",
        &token,
        &[("traceparent", unsampled.as_str())],
        &chat("gpt-4o-mini"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        mock.last_request().await["trace_headers"],
        json!([["traceparent", unsampled]])
    );
    // A sampled one is, whatever the ratio.
    let sampled_trace = "11111111111111111111111111111111";
    let tp = format!("00-{sampled_trace}-{CLIENT_SPAN}-01");
    let (status, _) = call(
        &gw,
        "/v1/chat/completions",
        &token,
        &[("traceparent", tp.as_str())],
        &chat("gpt-4o-mini"),
    )
    .await;
    assert_eq!(status, 200);
    let spans = receiver.trace(sampled_trace, 2).await;
    assert_eq!(spans.len(), 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        receiver.spans().await.len(),
        2,
        "only the sampled call's spans"
    );
    let db = backend.connect().await;
    let all = eventually(Duration::from_secs(3), || async {
        let r = rows(&db).await;
        (r.len() >= 3).then_some(r)
    })
    .await
    .expect("3 log rows");
    let ids: Vec<Option<String>> = all.into_iter().map(|r| r.trace_id).collect();
    assert_eq!(
        ids,
        [None, Some(CLIENT_TRACE.into()), Some(sampled_trace.into())]
    );
    // The longest model name a client may send (256 bytes; longer is refused at parse)
    // names the span cut to 128 bytes.
    let longest = "m".repeat(256);
    let long_trace = "22222222222222222222222222222222";
    let tp = format!("00-{long_trace}-{CLIENT_SPAN}-01");
    let (status, _) = call(
        &gw,
        "/v1/chat/completions",
        &token,
        &[("traceparent", tp.as_str())],
        &chat(&longest),
    )
    .await;
    assert_eq!(status, 404);
    let (server, _) = spans_of(&receiver, long_trace, 0).await;
    assert_eq!(attr(&server, "gen_ai.request.model"), longest.as_str());
    let name = server["name"].as_str().unwrap();
    assert!(
        name.len() <= "chat ".len() + 128 + 3 && name.starts_with("chat mmm"),
        "{name}"
    );
    backend.drop_database().await;
}

#[actix_web::test]
async fn a_dead_or_slow_exporter_never_delays_a_call_and_drops_are_counted() {
    if !otlp_ready() {
        return;
    }
    let backend = Backend::sqlite();
    let mock = Mock::start();
    // Nothing listens on the dead port.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dead_url = format!("http://127.0.0.1:{dead}/v1/traces");
    let slow = OtlpReceiver::start(&["--delay", "30"]);
    let slow_url = slow.endpoint();
    for (what, url) in [("dead", dead_url.as_str()), ("slow", slow_url.as_str())] {
        let gw = Gateway::start(
            &backend,
            &[
                ("GATEWAY__TELEMETRY__OTLP_ENDPOINT", url),
                ("GATEWAY__TELEMETRY__EXPORT_INTERVAL_MS", "20"),
                ("GATEWAY__TELEMETRY__EXPORT_BATCH_SPANS", "2"),
                ("GATEWAY__TELEMETRY__MAX_QUEUE_SPANS", "4"),
                ("GATEWAY__TELEMETRY__EXPORT_TIMEOUT_MS", "60000"),
            ],
        );
        if what == "dead" {
            gw.add_provider("mock", &mock, json!(["gpt-4o-mini"]), &["sk-dead-key-0001"])
                .await;
        }
        let token = gw.token(&backend, &["--name", what]);
        let started = Instant::now();
        let mut slowest = Duration::ZERO;
        for _ in 0..40 {
            let one = Instant::now();
            let (status, body) = call(
                &gw,
                "/v1/chat/completions",
                &token,
                &[],
                &chat("gpt-4o-mini"),
            )
            .await;
            assert_eq!(status, 200, "{what}: {body}");
            slowest = slowest.max(one.elapsed());
        }
        // No call waits on the exporter (a 30 s export would show here).
        assert!(
            slowest < Duration::from_secs(5),
            "{what}: a call took {slowest:?}"
        );
        let spans = 80.0;
        let dropped = eventually(Duration::from_secs(5), || async {
            let d = metric(&gw, "gateway_trace_spans_dropped_total", &[]).await;
            (d > 0.0).then_some(d)
        })
        .await
        .unwrap_or_else(|| panic!("{what}: no span counted as dropped"));
        let exported = metric(&gw, "gateway_trace_spans_exported_total", &[]).await;
        assert_eq!(exported, 0.0, "{what}");
        if what == "dead" {
            // The exporter retries a refused connection with backoff before it gives up.
            let failed = eventually(Duration::from_secs(20), || async {
                let f = metric(&gw, "gateway_trace_exports_failed_total", &[]).await;
                (f >= 1.0).then_some(f)
            })
            .await;
            assert!(failed.is_some(), "{what}: no failed export counted");
            assert!(
                metric(
                    &gw,
                    "gateway_trace_spans_dropped_total",
                    &[("reason", "export_failed")]
                )
                .await
                    >= 1.0
            );
        } else {
            // The export in flight holds two; the queue four; the rest are dropped as they end.
            let full = metric(
                &gw,
                "gateway_trace_spans_dropped_total",
                &[("reason", "queue_full")],
            )
            .await;
            assert!(
                full >= spans - 2.0 - 4.0 - 2.0,
                "{what}: {full} dropped of {spans}"
            );
        }
        assert!(dropped <= spans);
        eprintln!(
            "{what} exporter: 40 calls in {:?}, slowest {slowest:?}, {dropped} spans dropped",
            started.elapsed()
        );
    }
    backend.drop_database().await;
}
