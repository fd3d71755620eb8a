//! The Responses API over a WebSocket, as Codex's built-in OpenAI provider opens it: the
//! upgrade authenticated like a call (a bad token is refused before it), each
//! `response.create` answered with the same events as the SSE stream, several calls on one
//! socket, logged and billed like HTTP calls, a socket closed mid-call billed as a cut
//! stream.

use std::time::Duration;

use awc::ws::{Frame, Message};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};

use crate::harness::*;

/// The event types of a Responses stream read over HTTP.
async fn sse_types(gw: &Gateway, token: &str, body: &Value) -> Vec<String> {
    let mut body = body.clone();
    body["stream"] = json!(true);
    let (_, raw) = send_raw(
        "POST",
        &gw.url("/v1/responses"),
        Some(token),
        Some("application/json"),
        serde_json::to_vec(&body).unwrap(),
    )
    .await;
    let text = String::from_utf8(raw).unwrap();
    sse_data(&text)
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .map(|v| v["type"].as_str().unwrap_or("").to_string())
        .collect()
}

#[actix_web::test]
async fn responses_over_a_websocket_answer_like_the_sse_stream() {
    for backend in Backend::all().await {
        let (mock, gw) = three_providers(&backend).await;
        let (token_id, token) = token_with(&gw, json!({"max_tokens": 1_000_000})).await;
        let url = gw.url("/v1/responses").replacen("http", "ws", 1);
        // A bad token is refused before the upgrade.
        let refused = awc::Client::new()
            .ws(url.as_str())
            .header("authorization", "Bearer gz-not-a-token")
            .connect()
            .await;
        match refused {
            Err(awc::error::WsClientError::InvalidResponseStatus(s)) => assert_eq!(s, 401),
            other => panic!(
                "a bad token was not refused before the upgrade: {:?}",
                other.map(|_| ())
            ),
        }
        let (_, mut socket) = awc::Client::new()
            .ws(url.as_str())
            .header("authorization", format!("Bearer {token}"))
            .header("openai-beta", "responses_websockets=2026-02-04")
            .connect()
            .await
            .expect("the upgrade");
        for model in ["gpt-4o-mini", "claude-sonnet-4-5", "native-4o"] {
            let request = json!({"model": model, "input": "hello", "store": false});
            let mut message = request.clone();
            message["type"] = json!("response.create");
            socket
                .send(Message::Text(message.to_string().into()))
                .await
                .unwrap();
            let mut types = Vec::new();
            while let Some(frame) = socket.next().await {
                let Frame::Text(bytes) = frame.unwrap() else {
                    continue;
                };
                let event: Value = serde_json::from_slice(&bytes).unwrap();
                let kind = event["type"].as_str().unwrap().to_string();
                types.push(kind.clone());
                if kind == "response.completed" || kind == "error" {
                    break;
                }
            }
            assert_eq!(
                types.first().map(String::as_str),
                Some("response.created"),
                "{model}: {types:?}"
            );
            assert_eq!(
                types.last().map(String::as_str),
                Some("response.completed"),
                "{model}: {types:?}"
            );
            assert_eq!(
                types,
                sse_types(&gw, &token, &request).await,
                "{model}: the same events as SSE"
            );
        }
        // A refused call is an error event; the socket stays open for the next.
        let bad = json!({"type": "response.create", "model": "nobody", "input": "hi"});
        socket
            .send(Message::Text(bad.to_string().into()))
            .await
            .unwrap();
        let Some(Ok(Frame::Text(bytes))) = socket.next().await else {
            panic!("no answer")
        };
        let event: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            (event["type"].as_str(), event["status"].as_u64()),
            (Some("error"), Some(404)),
            "{event}"
        );
        // A call cut by the client closing the socket is billed for what was relayed.
        mock.fault(json!({"chunk_delay_ms": 300, "times": 1})).await;
        let slow =
            json!({"type": "response.create", "model": "gpt-4o-mini", "input": "tell me more"});
        socket
            .send(Message::Text(slow.to_string().into()))
            .await
            .unwrap();
        let _first = socket.next().await;
        drop(socket);
        let db = backend.connect().await;
        let rows = rows_of(&db, token_id, 8).await;
        let socket_rows: Vec<_> = rows.iter().filter(|r| r.endpoint == "responses").collect();
        assert!(
            socket_rows.len() >= 8,
            "three socket calls, three SSE calls, one refused, one cut"
        );
        let cut = eventually(Duration::from_secs(5), || async {
            rows_of(&db, token_id, 8)
                .await
                .into_iter()
                .find(|r| r.status_code == 499)
        })
        .await
        .expect("the cut call is logged as 499");
        assert!(cut.total_tokens > 0, "a cut call is billed: {cut:?}");
        backend.drop_database().await;
    }
}

/// A message larger than `server.max_body_bytes` closes the socket (1009, too big) instead
/// of being buffered.
#[actix_web::test]
async fn an_oversized_message_closes_the_socket() {
    let backend = Backend::sqlite();
    let (_mock, gw) = gateway_with_mock(
        &backend,
        &[("GATEWAY__SERVER__MAX_BODY_BYTES", "4096")],
        json!(["gpt-4o-mini"]),
        &["sk-socket-limit-01"],
    )
    .await;
    let (_, token) = token_with(&gw, json!({})).await;
    let url = gw.url("/v1/responses").replacen("http", "ws", 1);
    let (_, mut socket) = awc::Client::new()
        .ws(url.as_str())
        .header("authorization", format!("Bearer {token}"))
        .connect()
        .await
        .expect("the upgrade");
    let big =
        json!({"type": "response.create", "model": "gpt-4o-mini", "input": "x".repeat(10_000)});
    socket
        .send(Message::Text(big.to_string().into()))
        .await
        .unwrap();
    let mut closed = None;
    while let Ok(Some(frame)) = tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
        match frame {
            Ok(Frame::Close(reason)) => {
                closed = Some(reason.map(|r| u16::from(r.code)));
                break;
            }
            Err(_) => break,
            _ => {}
        }
    }
    assert_eq!(
        closed,
        Some(Some(1009)),
        "the socket was not closed as too big"
    );
}

/// A socket with no message for `server.websocket_idle_secs` is closed by the gateway.
#[actix_web::test]
async fn an_idle_socket_is_closed() {
    let backend = Backend::sqlite();
    let (_mock, gw) = gateway_with_mock(
        &backend,
        &[("GATEWAY__SERVER__WEBSOCKET_IDLE_SECS", "1")],
        json!(["gpt-4o-mini"]),
        &["sk-socket-idle-01"],
    )
    .await;
    let (_, token) = token_with(&gw, json!({})).await;
    let url = gw.url("/v1/responses").replacen("http", "ws", 1);
    let (_, mut socket) = awc::Client::new()
        .ws(url.as_str())
        .header("authorization", format!("Bearer {token}"))
        .connect()
        .await
        .expect("the upgrade");
    let started = std::time::Instant::now();
    let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
        .await
        .expect("the idle socket was never closed");
    assert!(
        matches!(frame, Some(Ok(Frame::Close(_))) | None),
        "{frame:?}"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

/// Codex 0.171 with only `openai_base_url` and `CODEX_API_KEY` set — its built-in OpenAI
/// provider, WebSocket first — runs a real tool-using task through an OpenAI-type and an
/// Anthropic-type provider without falling back to HTTPS: the mock calls Codex's own command
/// tool to write a file and print it, then answers once the tool's output came back.
#[actix_web::test]
async fn codex_runs_its_command_tool_over_the_websocket() {
    let Some(bin) = codex("tests/codex_latest") else {
        return;
    };
    let backend = Backend::sqlite();
    let (mock, gw) = three_providers(&backend).await;
    let (_, token) = token_with(&gw, json!({"max_tokens": 5_000_000})).await;
    for model in ["gpt-4o-mini", "claude-sonnet-4-5"] {
        let config = format!(
            "model = \"{model}\"\nopenai_base_url = \"{}/v1\"\n",
            gw.base
        );
        let key = ("CODEX_API_KEY", token.clone());
        let (stderr, _) = codex_writes_a_file(&bin, &mock, config, key).await;
        assert!(!stderr.contains("Falling back"), "{model}: {stderr}");
    }
    // It went over the socket: the gateway counted the upgrades.
    let (_, raw) = send_raw("GET", &gw.url("/metrics"), None, None, Vec::new()).await;
    let metrics = String::from_utf8_lossy(&raw).to_string();
    let upgrades = metrics
        .lines()
        .find(|l| l.starts_with("gateway_websocket_upgrades_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(
        upgrades >= 2.0,
        "Codex did not use the WebSocket: {upgrades} upgrades"
    );
}
