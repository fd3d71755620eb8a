//! Request ids: the client's `x-request-id` where it is usable, else a new one; set on
//! the request for logs and echoed on the response. The same middleware logs the hidden
//! detail of a 500 and counts requests per route.

use std::sync::Arc;

use actix_web::HttpRequest;

use crate::error::ApiError;

/// The request's id (set by the `request_ids` middleware), for logs.
#[derive(Clone)]
pub struct RequestId(pub Arc<str>);

pub fn request_id(req: &HttpRequest) -> Arc<str> {
    use actix_web::HttpMessage;
    req.extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_else(|| Arc::from("req_unknown"))
}

/// `x-request-id`, parsed once (a lookup by `&str` allocates a `HeaderName` per call).
const X_REQUEST_ID: actix_web::http::header::HeaderName =
    actix_web::http::header::HeaderName::from_static("x-request-id");

/// A new request id: `req_` and 16 hex digits (formatted on the stack: one allocation, the
/// `Arc` itself).
fn new_request_id() -> Arc<str> {
    use rand::Rng;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let n: u64 = rand::thread_rng().gen();
    let mut id = *b"req_0000000000000000";
    for (i, b) in id[4..].iter_mut().enumerate() {
        *b = HEX[((n >> (60 - 4 * i)) & 0xf) as usize];
    }
    Arc::from(std::str::from_utf8(&id).expect("ascii"))
}

/// A client's own `x-request-id` is kept when it is a sane id: 1..=128 characters of
/// `[A-Za-z0-9._:-]` (no spaces, nothing a log reader could be fooled by).
fn client_request_id(req: &actix_web::dev::ServiceRequest) -> Option<Arc<str>> {
    let value = req.headers().get(&X_REQUEST_ID)?.to_str().ok()?.trim();
    let sane = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
    sane.then(|| Arc::from(value))
}

/// Middleware: gives every request an id — the client's `x-request-id` if it sent a sane
/// one, else a new one — returned as `x-request-id`, stored in the request log and in every
/// log line of the call; logs the hidden detail of a 500 with it (the client sees only the
/// generic message); counts requests per route pattern for Prometheus.
pub async fn request_ids(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    use actix_web::HttpMessage;
    let started = std::time::Instant::now();
    let id: Arc<str> = client_request_id(&req).unwrap_or_else(new_request_id);
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut res = next.call(req).await?;
    if let Some(ApiError::Internal { context, detail }) = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
    {
        metrics::counter!("gateway_internal_errors_total").increment(1);
        log::error!(
            "{id} {} {}: {context}: {detail}",
            res.request().method(),
            res.request().path()
        );
    }
    let route = res.request().match_pattern();
    crate::telemetry::record_http(
        route.as_deref().unwrap_or("unmatched"),
        res.request().method().as_str(),
        res.status().as_u16(),
        started.elapsed(),
    );
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&id) {
        res.headers_mut().insert(X_REQUEST_ID, value);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::new_request_id;

    #[test]
    fn new_ids_are_req_and_sixteen_hex_digits() {
        let (a, b) = (new_request_id(), new_request_id());
        for id in [&a, &b] {
            assert_eq!(id.len(), 20, "{id}");
            assert!(id.starts_with("req_"), "{id}");
            assert!(id[4..]
                .bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        }
        assert_ne!(a, b);
    }
}
