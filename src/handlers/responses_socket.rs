//! The Responses API over a WebSocket (`GET /v1/responses` with `Upgrade: websocket`), as
//! Codex's built-in OpenAI provider opens it first. The upgrade is authenticated like any
//! call (a bad token is a 401 before the upgrade: a client never waits on a refused one);
//! then each `{"type": "response.create", …}` text message is one Responses call through
//! the same call flow as HTTP (admission, budgets, concurrency, routing, failover, logs,
//! stored responses), answered with the same events as the SSE stream, one JSON text
//! message each. Calls on one socket run one after another. A socket closed mid-call cuts
//! the call's stream, billed like any cut stream; a socket idle for
//! `server.websocket_idle_secs` is closed;
//! frames and messages are bounded (`server.max_body_bytes`).
//!
//! `actix-ws` (the actix project's own WebSocket session for actix-web handlers) does the
//! protocol: handshake, framing, continuation aggregation, ping/pong, close.

use std::pin::Pin;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, Session};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use serde_json::{json, Value};

use super::bearer::authenticate;
use super::call_flow::{handle_as, CallBody};
use crate::core::endpoint::{Dialect, Endpoint};
use crate::state::AppState;
use crate::upstream::http::UpstreamHttp;

/// Upgrades an authenticated `GET /v1/responses` and serves its calls.
pub async fn open(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<UpstreamHttp>,
) -> HttpResponse {
    if let Err(e) = authenticate(&state, &req).await {
        return crate::dialect::errors::answer(Dialect::Responses, &e);
    }
    let (response, session, messages) = match actix_ws::handle(&req, body) {
        Ok(upgraded) => upgraded,
        Err(e) => {
            return HttpResponse::BadRequest().json(json!({"error": {
                "message": format!("not a WebSocket upgrade: {e}"),
                "type": "invalid_request_error", "code": "invalid_upgrade", "param": null}}))
        }
    };
    metrics::counter!("gateway_websocket_upgrades_total").increment(1);
    let limit = state.settings.server.max_body_bytes;
    let messages = messages
        .max_frame_size(limit)
        .aggregate_continuations()
        .max_continuation_size(limit);
    actix_web::rt::spawn(serve(req, session, messages, state, client));
    response
}

async fn serve(
    req: HttpRequest,
    mut session: Session,
    mut messages: actix_ws::AggregatedMessageStream,
    state: web::Data<AppState>,
    client: web::Data<UpstreamHttp>,
) {
    let idle = Duration::from_secs(state.settings.server.websocket_idle_secs);
    loop {
        let next = match tokio::time::timeout(idle, messages.next()).await {
            Ok(Some(Ok(message))) => message,
            Ok(Some(Err(e))) => {
                let reason = CloseReason {
                    code: CloseCode::Size,
                    description: Some(format!("{e}")),
                };
                let _ = session.close(Some(reason)).await;
                return;
            }
            Ok(None) => return,
            Err(_) => {
                let _ = session.close(Some(CloseCode::Normal.into())).await;
                return;
            }
        };
        match next {
            AggregatedMessage::Text(text) => {
                if !call(&req, &mut session, text.as_bytes(), &state, &client).await {
                    return;
                }
            }
            AggregatedMessage::Binary(bytes) => {
                if !call(&req, &mut session, &bytes, &state, &client).await {
                    return;
                }
            }
            AggregatedMessage::Ping(bytes) => {
                if session.pong(&bytes).await.is_err() {
                    return;
                }
            }
            AggregatedMessage::Pong(_) => {}
            AggregatedMessage::Close(_) => {
                let _ = session.close(None).await;
                return;
            }
        }
    }
}

/// An error event on the socket (the shape the SSE stream's `error` event has).
fn error_event(status: u16, error: Value) -> String {
    json!({"type": "error", "status": status, "error": error}).to_string()
}

/// One `response.create` message: the call made and its events sent. False when the
/// socket is gone.
async fn call(
    req: &HttpRequest,
    session: &mut Session,
    message: &[u8],
    state: &AppState,
    client: &UpstreamHttp,
) -> bool {
    let mut body = match serde_json::from_slice::<Value>(message) {
        Ok(Value::Object(map)) => map,
        _ => {
            let e = json!({"message": "a message must be a JSON object", "type": "invalid_request_error"});
            return session.text(error_event(400, e)).await.is_ok();
        }
    };
    if body.get("type").and_then(Value::as_str) != Some("response.create") {
        let e = json!({"message": "expected a message of type response.create", "type": "invalid_request_error"});
        return session.text(error_event(400, e)).await.is_ok();
    }
    body.remove("type");
    // Codex's socket messages carry the request itself, or under `response`.
    let mut request = match body.remove("response") {
        Some(Value::Object(inner)) => inner,
        _ => body,
    };
    request.insert("stream".into(), Value::Bool(true));
    let made = Bytes::from(Value::Object(request).to_string());
    let answer = handle_as(
        Endpoint::Responses,
        Endpoint::Responses.name(),
        req,
        CallBody::Made(made),
        state,
        client,
    )
    .await;
    let status = answer.status().as_u16();
    let mut stream = answer.into_body();
    if status != 200 {
        let bytes = actix_web::body::to_bytes(stream).await.unwrap_or_default();
        let error = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v.get("error").cloned())
            .unwrap_or(Value::Null);
        return session.text(error_event(status, error)).await.is_ok();
    }
    // The SSE events, one text message each; the stream (and the call's record with it)
    // is dropped if the socket goes away, which bills it as a cut stream.
    let mut pending = BytesMut::new();
    loop {
        let chunk = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await;
        let Some(Ok(chunk)) = chunk else {
            return true;
        };
        pending.extend_from_slice(&chunk);
        while let Some(end) = find(&pending, b"\n\n") {
            let event = pending.split_to(end + 2);
            let data: Vec<&str> = std::str::from_utf8(&event)
                .unwrap_or("")
                .lines()
                .filter_map(|l| l.strip_prefix("data:").map(str::trim_start))
                .collect();
            let data = data.join("\n");
            if data.is_empty() || data == "[DONE]" {
                continue;
            }
            if session.text(data).await.is_err() {
                return false;
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
