//! Errors as each client dialect writes them, in one place: a whole answer (Chat and
//! Responses clients get OpenAI's `{"error": {…}}`, an OpenAI-shaped upstream error passed
//! as it came; Messages clients get Anthropic's `{"type": "error", …}`, an Anthropic
//! upstream's own error passed as it came) and the event that ends a stream.

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use bytes::Bytes;
use serde_json::Value;

use crate::core::endpoint::Dialect;
use crate::error::ApiError;

/// The whole answer to a call that failed with `err` (an upstream's error passed through
/// keeps the upstream's pacing headers).
pub fn answer(dialect: Dialect, err: &ApiError) -> HttpResponse {
    let mut response = whole(dialect, err);
    if let ApiError::Upstream { pacing, .. } = err {
        let headers = response.headers_mut();
        for (name, value) in pacing.iter() {
            let name = HeaderName::from_bytes(name.as_str().as_bytes());
            let value = HeaderValue::from_bytes(value.as_bytes());
            if let (Ok(name), Ok(value)) = (name, value) {
                headers.append(name, value);
            }
        }
    }
    response
}

fn whole(dialect: Dialect, err: &ApiError) -> HttpResponse {
    match dialect {
        Dialect::Chat | Dialect::Responses => err.error_response(),
        Dialect::Messages => {
            if let ApiError::Upstream { status, body, .. } = err {
                let native =
                    serde_json::from_slice::<Value>(body).is_ok_and(|v| v["type"] == "error");
                if native {
                    return HttpResponse::build(*status)
                        .content_type("application/json")
                        .body(body.clone());
                }
            }
            let mut builder = HttpResponse::build(err.status_code());
            if let Some(secs) = err.retry_after_secs() {
                builder.insert_header(("retry-after", secs.to_string()));
            }
            builder.json(err.messages_body())
        }
    }
}

/// The event that ends a stream cut by `err` after its first bytes.
pub fn stream_event(dialect: Dialect, err: &ApiError) -> Bytes {
    match dialect {
        Dialect::Chat => Bytes::from(format!("data: {}\n\n", err.body())),
        Dialect::Responses => {
            let (kind, code) = err.kind();
            let event = serde_json::json!({"type": "error", "code": code,
                "message": err.message(), "param": null, "error_type": kind});
            Bytes::from(format!("event: error\ndata: {event}\n\n"))
        }
        Dialect::Messages => {
            Bytes::from(format!("event: error\ndata: {}\n\n", err.messages_body()))
        }
    }
}
