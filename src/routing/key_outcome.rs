//! What an attempt says of the key that made it (`KeyOutcome`), and the pure classifier
//! of an upstream's refusal by status and body, with the vendor's own error texts from its
//! quirks row.

use std::time::Duration;

use crate::upstream::quirks::Quirks;

/// What happened to an attempt made with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOutcome {
    /// The upstream answered 2xx.
    Ok,
    /// A 4xx caused by the request itself (bad parameters, too large): says nothing
    /// against the key, which is healthy.
    RequestError,
    /// 429 rate limit: cooled down for `Retry-After` or `cooldown`.
    RateLimited(Option<Duration>),
    /// The key's account is out of quota or credit: benched for `quota_cooldown`.
    OutOfQuota,
    /// 401/403: the key is refused; cooled down.
    Refused,
    /// The upstream could not be connected to: cooled down at once.
    Unreachable,
    /// 5xx, a timeout or a connection failure: counts toward the breaker; a `Retry-After`
    /// cools the key down at once.
    Failed(Option<Duration>),
}

/// Classifies an upstream error answer of a provider with `quirks`.
pub fn classify(
    quirks: &Quirks,
    status: u16,
    body: &[u8],
    retry_after: Option<Duration>,
) -> KeyOutcome {
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]).to_ascii_lowercase();
    match status {
        402 => KeyOutcome::OutOfQuota,
        429 if quirks.out_of_money(&text) => KeyOutcome::OutOfQuota,
        // "Request too large for gpt-4o … on tokens per min": the request, not the key.
        429 if text.contains("request too large") => KeyOutcome::RequestError,
        429 => KeyOutcome::RateLimited(retry_after),
        401 | 403 => KeyOutcome::Refused,
        s if s >= 500 => KeyOutcome::Failed(retry_after),
        _ => KeyOutcome::RequestError,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::api_type::ApiType;

    fn c(api_type: ApiType, status: u16, body: &str) -> KeyOutcome {
        classify(Quirks::of(api_type, false), status, body.as_bytes(), None)
    }

    #[test]
    fn classifies_upstream_errors() {
        let quota = r#"{"error":{"type":"insufficient_quota","code":"insufficient_quota"}}"#;
        for api_type in [ApiType::OpenAi, ApiType::DeepSeek, ApiType::Zhipu] {
            assert_eq!(c(api_type, 429, quota), KeyOutcome::OutOfQuota);
        }
        assert_eq!(
            c(ApiType::OpenAi, 402, "Insufficient Balance"),
            KeyOutcome::OutOfQuota
        );
        assert_eq!(
            c(
                ApiType::Anthropic,
                429,
                r#"{"error":{"message":"Your credit balance is too low"}}"#
            ),
            KeyOutcome::OutOfQuota
        );
        let request_too_large =
            r#"{"error":{"message":"Request too large for gpt-4o on tokens per min"}}"#;
        assert_eq!(
            c(ApiType::OpenAi, 429, request_too_large),
            KeyOutcome::RequestError
        );
        assert_eq!(c(ApiType::OpenAi, 429, "{}"), KeyOutcome::RateLimited(None));
        assert_eq!(c(ApiType::OpenAi, 400, "{}"), KeyOutcome::RequestError);
        assert_eq!(c(ApiType::OpenAi, 413, "{}"), KeyOutcome::RequestError);
        assert_eq!(c(ApiType::OpenAi, 401, "{}"), KeyOutcome::Refused);
        assert_eq!(c(ApiType::Anthropic, 529, "{}"), KeyOutcome::Failed(None));
    }

    #[test]
    fn a_vendor_code_counts_for_its_vendor_only() {
        let zhipu = r#"{"error":{"code":"1113","message":"余额不足或无可用资源包,请充值。"}}"#;
        assert_eq!(c(ApiType::Zhipu, 429, zhipu), KeyOutcome::OutOfQuota);
        let code_only = r#"{"error":{"code":"1113","message":"busy"}}"#;
        assert_eq!(
            c(ApiType::OpenAi, 429, code_only),
            KeyOutcome::RateLimited(None),
            "1113 is Zhipu's code: from another vendor a 429 is a rate limit"
        );
    }
}
