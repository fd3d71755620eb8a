//! Every dialect traced: Messages and Chat translated, Responses over HTTP and the
//! WebSocket, a refused call, captured content.

use serde_json::{json, Value};

use super::*;

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
    let long_prompt = "word ".repeat(100);
    let (status, body) = call_in_trace(
        &gw,
        "/v1/messages",
        &token,
        &trace,
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
    let (status, body) = call_in_trace(
        &gw,
        "/v1/chat/completions",
        &token,
        &trace,
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
    let (status, body) = call_in_trace(
        &gw,
        "/v1/responses",
        &token,
        &trace,
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
    let tp = client_parent(&trace);
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
    let (status, _) = call_in_trace(
        &gw,
        "/v1/chat/completions",
        &narrow,
        &trace,
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
