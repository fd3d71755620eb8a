//! Every failure a client can see (contract section 3), with its status, kind and code;
//! rendered in OpenAI's shape here and in each client dialect's by `dialect::errors`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use bytes::Bytes;
use serde_json::json;

#[derive(Debug, Clone)]
pub enum ApiError {
    /// 400: malformed JSON, missing or invalid fields.
    InvalidRequest {
        message: String,
        param: Option<&'static str>,
    },
    /// 401 `invalid_token`: missing or unknown token.
    InvalidToken,
    /// 401 `token_disabled`.
    TokenDisabled,
    /// 401 `token_expired`.
    TokenExpired,
    /// 401 `login_failed`: an Ed25519 login answer that does not verify (unknown, expired or
    /// used challenge, unknown key, bad signature — deliberately one answer for all).
    LoginFailed,
    /// 403: model not allowed, or a non-admin on an admin route.
    PermissionDenied(String),
    /// 403 `model_not_priced`: a token with a money budget asked for a model (or service
    /// tier) the price book cannot price.
    NotPriced(String),
    /// 404: no provider serves the model, unknown route or resource.
    NotFound(String),
    /// 405 on a known route with the wrong method.
    MethodNotAllowed,
    /// 409: a resource with that name already exists.
    Conflict(String),
    /// 413: body over `server.max_body_bytes`.
    PayloadTooLarge { limit: usize },
    /// 429 `rate_limit_error`: token RPM/TPM exceeded; `Retry-After` says when the minute
    /// has room again.
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    /// 429 `rate_limit_error`, code `concurrency_limit`: as many calls in flight as the
    /// token's `max_parallel` allows; `Retry-After: 1`.
    ConcurrencyLimit(String),
    /// 429 `insufficient_quota`: token budget exhausted; `Retry-After` says when its period
    /// resets (a lifetime budget: an hour, for a client that would retry).
    InsufficientQuota {
        message: String,
        retry_after_secs: u64,
    },
    /// 429 `insufficient_quota`, code `stored_responses_quota`: the token's stored
    /// responses fill its quota (`responses.max_stored_bytes_per_token`).
    StorageFull(String),
    /// 502: upstream failed on every attempt.
    UpstreamFailed(String),
    /// 503: no usable provider or key.
    NoUpstream(String),
    /// 503: every key is cooling down and the one probe call is taken; `Retry-After` says
    /// when the first recovers.
    Cooling {
        message: String,
        retry_after_secs: u64,
    },
    /// 504: upstream timed out.
    UpstreamTimeout(String),
    /// An upstream 4xx answer (other than 401/403/429), passed through, with the
    /// upstream's pacing headers when its client speaks the upstream's API (`pacing`).
    Upstream {
        status: StatusCode,
        body: Bytes,
        pacing: Relayed,
    },
    /// 500: a bug or a database failure. The client sees `context` only; `detail` (a
    /// database's own text, say) goes to the log with the request id.
    Internal { context: String, detail: String },
}

/// Headers an answer relays from the upstream as they came (`retry-after`,
/// `x-should-retry`, `anthropic-ratelimit-*`, `x-ratelimit-*`).
pub type Relayed = Box<[(http::HeaderName, http::HeaderValue)]>;

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::InvalidRequest {
            message: message.into(),
            param: None,
        }
    }

    pub fn invalid_param(param: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::InvalidRequest {
            message: message.into(),
            param: Some(param),
        }
    }

    pub fn internal(context: &str, err: impl std::fmt::Display) -> ApiError {
        ApiError::Internal {
            context: context.to_string(),
            detail: err.to_string(),
        }
    }

    /// Whether this is one of the 401s.
    pub fn is_authentication(&self) -> bool {
        matches!(
            self,
            ApiError::InvalidToken
                | ApiError::TokenDisabled
                | ApiError::TokenExpired
                | ApiError::LoginFailed
        )
    }

    /// `(type, code)` of the OpenAI error object.
    pub fn kind(&self) -> (&'static str, &'static str) {
        match self {
            ApiError::InvalidRequest { .. } => ("invalid_request_error", "invalid_request"),
            ApiError::InvalidToken => ("authentication_error", "invalid_token"),
            ApiError::TokenDisabled => ("authentication_error", "token_disabled"),
            ApiError::TokenExpired => ("authentication_error", "token_expired"),
            ApiError::LoginFailed => ("authentication_error", "login_failed"),
            ApiError::PermissionDenied(_) => ("permission_error", "permission_denied"),
            ApiError::NotPriced(_) => ("permission_error", "model_not_priced"),
            ApiError::NotFound(_) => ("not_found_error", "not_found"),
            ApiError::MethodNotAllowed => ("invalid_request_error", "method_not_allowed"),
            ApiError::Conflict(_) => ("invalid_request_error", "conflict"),
            ApiError::PayloadTooLarge { .. } => ("invalid_request_error", "payload_too_large"),
            ApiError::RateLimited { .. } => ("rate_limit_error", "rate_limit_exceeded"),
            ApiError::ConcurrencyLimit(_) => ("rate_limit_error", "concurrency_limit"),
            ApiError::InsufficientQuota { .. } => ("insufficient_quota", "insufficient_quota"),
            ApiError::StorageFull(_) => ("insufficient_quota", "stored_responses_quota"),
            ApiError::UpstreamFailed(_) => ("upstream_error", "upstream_failed"),
            ApiError::NoUpstream(_) | ApiError::Cooling { .. } => {
                ("upstream_error", "no_upstream_available")
            }
            ApiError::UpstreamTimeout(_) => ("upstream_error", "upstream_timeout"),
            ApiError::Upstream { .. } => ("upstream_error", "upstream_client_error"),
            ApiError::Internal { .. } => ("internal_error", "internal_error"),
        }
    }

    pub fn message(&self) -> String {
        match self {
            ApiError::InvalidRequest { message, .. } => message.clone(),
            ApiError::InvalidToken => "invalid or missing API token".into(),
            ApiError::TokenDisabled => "this token is disabled".into(),
            ApiError::TokenExpired => "this token has expired".into(),
            ApiError::LoginFailed => "login refused: the challenge is unknown, expired or used, \
                                      or the signature does not verify"
                .into(),
            ApiError::MethodNotAllowed => "method not allowed on this route".into(),
            ApiError::PayloadTooLarge { limit } => {
                format!("request body is larger than the limit of {limit} bytes")
            }
            ApiError::Upstream { status, body, .. } => upstream_message(body)
                .unwrap_or_else(|| format!("upstream answered {}", status.as_u16())),
            ApiError::PermissionDenied(m)
            | ApiError::NotPriced(m)
            | ApiError::NotFound(m)
            | ApiError::Conflict(m)
            | ApiError::RateLimited { message: m, .. }
            | ApiError::ConcurrencyLimit(m)
            | ApiError::InsufficientQuota { message: m, .. }
            | ApiError::StorageFull(m)
            | ApiError::UpstreamFailed(m)
            | ApiError::NoUpstream(m)
            | ApiError::UpstreamTimeout(m) => m.clone(),
            ApiError::Cooling { message, .. } => message.clone(),
            ApiError::Internal { context, .. } => format!("internal error: {context}"),
        }
    }

    /// A 429 for a full minute, free again in `retry_after_secs`.
    pub fn rate_limited(message: impl Into<String>, retry_after_secs: u64) -> ApiError {
        ApiError::RateLimited {
            message: message.into(),
            retry_after_secs: retry_after_secs.max(1),
        }
    }

    /// A 429 for a spent budget, back in `retry_after_secs`.
    pub fn insufficient_quota(message: impl Into<String>, retry_after_secs: u64) -> ApiError {
        ApiError::InsufficientQuota {
            message: message.into(),
            retry_after_secs: retry_after_secs.max(1),
        }
    }

    /// The `Retry-After` this answer carries, in whole seconds: every 429 and 503 has one
    /// (Claude Code and the SDKs read it to pace their retries).
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            ApiError::Cooling {
                retry_after_secs, ..
            }
            | ApiError::RateLimited {
                retry_after_secs, ..
            }
            | ApiError::InsufficientQuota {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            ApiError::ConcurrencyLimit(_) => Some(1),
            // Room comes back when stored responses are deleted or expire.
            ApiError::StorageFull(_) => Some(60),
            // No usable key (disabled, benched) or no database: a short wait.
            ApiError::NoUpstream(_) => Some(5),
            _ => None,
        }
    }

    pub fn param(&self) -> Option<&'static str> {
        match self {
            ApiError::InvalidRequest { param, .. } => *param,
            _ => None,
        }
    }

    /// The OpenAI-shaped JSON body.
    pub fn body(&self) -> serde_json::Value {
        let (kind, code) = self.kind();
        json!({"error": {"message": self.message(), "type": kind, "code": code, "param": self.param()}})
    }

    /// The Anthropic-shaped JSON body, for `/v1/messages`.
    pub fn messages_body(&self) -> serde_json::Value {
        let kind = match self.status_code().as_u16() {
            400 | 405 | 409 => "invalid_request_error",
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            413 => "request_too_large",
            429 => "rate_limit_error",
            529 | 503 => "overloaded_error",
            _ => "api_error",
        };
        json!({"type": "error", "error": {"type": kind, "message": self.message()}})
    }
}

/// The `error.message` (or `message`) of an upstream error body, if it has one.
fn upstream_message(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let message = value
        .pointer("/error/message")
        .or_else(|| value.get("message"))?;
    message.as_str().map(str::to_string)
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::InvalidRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::InvalidToken
            | ApiError::TokenDisabled
            | ApiError::TokenExpired
            | ApiError::LoginFailed => StatusCode::UNAUTHORIZED,
            ApiError::PermissionDenied(_) | ApiError::NotPriced(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RateLimited { .. }
            | ApiError::ConcurrencyLimit(_)
            | ApiError::InsufficientQuota { .. }
            | ApiError::StorageFull(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::UpstreamFailed(_) => StatusCode::BAD_GATEWAY,
            ApiError::NoUpstream(_) | ApiError::Cooling { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::UpstreamTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Upstream { status, .. } => *status,
            ApiError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status_code());
        if let Some(secs) = self.retry_after_secs() {
            builder.insert_header(("retry-after", secs.to_string()));
        }
        if let ApiError::Upstream { body, .. } = self {
            // An upstream error that is already OpenAI-shaped goes through untouched.
            let openai_shaped = serde_json::from_slice::<serde_json::Value>(body)
                .is_ok_and(|v| v.pointer("/error/message").is_some_and(|m| m.is_string()));
            if openai_shaped {
                return builder.content_type("application/json").body(body.clone());
            }
        }
        builder.json(self.body())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_shape() {
        let body = ApiError::TokenExpired.body();
        assert_eq!(body["error"]["type"], "authentication_error");
        assert_eq!(body["error"]["code"], "token_expired");
        assert!(body["error"]["param"].is_null());
        let body = ApiError::invalid_param("model", "model is required").body();
        assert_eq!(body["error"]["param"], "model");
        assert_eq!(ApiError::insufficient_quota("x", 3).status_code(), 429);
    }

    #[test]
    fn upstream_message_is_kept() {
        let err = ApiError::Upstream {
            status: StatusCode::BAD_REQUEST,
            body: Bytes::from_static(br#"{"error":{"message":"bad temperature"}}"#),
            pacing: Relayed::default(),
        };
        assert_eq!(err.message(), "bad temperature");
        let err = ApiError::Upstream {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: Bytes::from_static(b"<html>"),
            pacing: Relayed::default(),
        };
        assert_eq!(err.message(), "upstream answered 422");
    }
}
