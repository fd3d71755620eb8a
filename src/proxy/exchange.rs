//! One upstream exchange: one request to one key, within its deadlines and with a bounded
//! body, and what happened as an `Outcome`. It reports nothing and retries nothing: the
//! attempt loop (`proxy`) turns the outcome into key health and its next step.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use tokio::time::timeout;

use crate::core::text::truncate;
use crate::upstream::http::{error_chain, SendError, UpstreamHttp};
use crate::upstream::UpstreamRequest;

/// When an exchange must have answered.
pub struct Deadlines {
    /// The response head: a stream's comes at once, so it has the first-byte timeout; a
    /// whole answer's comes only once it is generated, so it has the call's deadline.
    pub head: Duration,
    /// The whole call, body included.
    pub whole: Instant,
}

/// What one exchange came to.
pub enum Outcome {
    /// 2xx, streamed: the body is relayed as it arrives.
    Stream(Incoming),
    /// 2xx, whole: the body, read within the deadline and the size limit.
    Whole(Bytes),
    /// Any other status: its body (bounded; empty if unreadable) and `Retry-After`.
    Refused {
        status: u16,
        body: Bytes,
        retry_after: Option<Duration>,
    },
    /// No connection could be made: nothing reached the upstream.
    Unreachable(String),
    /// Sent, then broke (connection reset, bad framing, body too large).
    Broken(String),
    /// Sent, and no answer in time: the upstream may be generating (and billing) it.
    TimedOut(String),
}

/// An exchange's outcome and when its response head arrived (for time to first byte).
pub struct Exchange {
    pub outcome: Outcome,
    pub head_at: Option<Instant>,
    /// The upstream's pacing headers, for a pass-through answer to relay.
    pub pacing: Pacing,
}

/// Headers that tell a client how to pace itself — `retry-after`, `x-should-retry`,
/// Anthropic's `anthropic-ratelimit-*` and OpenAI's `x-ratelimit-*` — as the upstream sent
/// them (at most 32).
pub type Pacing = Vec<(http::HeaderName, http::HeaderValue)>;

fn pacing(headers: &http::HeaderMap) -> Pacing {
    headers
        .iter()
        .filter(|(name, _)| {
            let n = name.as_str();
            n == "retry-after"
                || n == "x-should-retry"
                || n.starts_with("anthropic-ratelimit-")
                || n.starts_with("x-ratelimit-")
        })
        .take(32)
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// Sends `up` and waits for its answer: the head within `deadlines.head`, a whole body
/// (`stream: false`) of at most `limit` bytes within `deadlines.whole`; the upstream's
/// pacing headers kept when `keep_pacing` (a pass-through leg relays them).
pub async fn send(
    client: &UpstreamHttp,
    up: UpstreamRequest,
    stream: bool,
    deadlines: &Deadlines,
    limit: usize,
    keep_pacing: bool,
) -> Exchange {
    let answer = timeout(deadlines.head, client.post(&up.url, &up.headers, up.body)).await;
    let response = match answer {
        Ok(Ok(r)) => r,
        Err(_) => {
            return Exchange {
                outcome: Outcome::TimedOut(format!(
                    "no response within {}s",
                    deadlines.head.as_secs()
                )),
                head_at: None,
                pacing: Pacing::new(),
            }
        }
        Ok(Err(e)) => {
            let detail = truncate(&e.to_string(), 300);
            let outcome = match e {
                SendError::Connect(_) => Outcome::Unreachable(detail),
                _ => Outcome::Broken(detail),
            };
            return Exchange {
                outcome,
                head_at: None,
                pacing: Pacing::new(),
            };
        }
    };
    let head_at = Some(Instant::now());
    let pacing = if keep_pacing {
        pacing(response.headers())
    } else {
        Pacing::new()
    };
    let status = response.status().as_u16();
    let outcome = if !(200..300).contains(&status) {
        let retry_after = retry_after(response.headers());
        let body = read_body(response.into_body(), limit, deadlines.whole)
            .await
            .unwrap_or_default();
        Outcome::Refused {
            status,
            body,
            retry_after,
        }
    } else if stream {
        Outcome::Stream(response.into_body())
    } else {
        match read_body(response.into_body(), limit, deadlines.whole).await {
            Ok(body) => Outcome::Whole(body),
            // Generated already: past the deadline it is a timeout, not a broken answer.
            Err(e) if Instant::now() >= deadlines.whole => Outcome::TimedOut(format!("body: {e}")),
            Err(e) => Outcome::Broken(format!("body: {e}")),
        }
    };
    Exchange {
        outcome,
        head_at,
        pacing,
    }
}

/// Reads a whole upstream body, at most `limit` bytes, before `deadline`.
async fn read_body(body: Incoming, limit: usize, deadline: Instant) -> Result<Bytes, String> {
    let wait = deadline.saturating_duration_since(Instant::now());
    match timeout(wait, Limited::new(body, limit).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) => Err(error_chain(&*e)),
        Err(_) => Err("timed out reading the upstream body".into()),
    }
}

/// `Retry-After` in seconds or as an HTTP date, at most a day.
fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let text = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let secs = match text.parse::<u64>() {
        Ok(s) => s,
        Err(_) => httpdate::parse_http_date(text)
            .ok()?
            .duration_since(std::time::SystemTime::now())
            .map_or(0, |left| left.as_secs()),
    };
    Some(Duration::from_secs(secs.min(86_400)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn after(value: &str) -> Option<u64> {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, value.parse().unwrap());
        retry_after(&headers).map(|d| d.as_secs())
    }

    #[test]
    fn only_pacing_headers_are_kept() {
        let mut headers = http::HeaderMap::new();
        for (k, v) in [
            ("retry-after", "3"),
            ("x-should-retry", "true"),
            ("anthropic-ratelimit-requests-remaining", "9"),
            ("x-ratelimit-remaining-tokens", "100"),
            ("set-cookie", "a=b"),
            ("x-api-key", "sk-secret"),
        ] {
            headers.insert(http::HeaderName::from_static(k), v.parse().unwrap());
        }
        let kept: Vec<String> = pacing(&headers)
            .iter()
            .map(|(n, _)| n.to_string())
            .collect();
        assert_eq!(kept.len(), 4, "{kept:?}");
        assert!(!kept.iter().any(|k| k == "set-cookie" || k == "x-api-key"));
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(after("7"), Some(7));
        assert_eq!(after("999999"), Some(86_400), "at most a day");
        let soon = std::time::SystemTime::now() + Duration::from_secs(120);
        let secs = after(&httpdate::fmt_http_date(soon)).unwrap();
        assert!((118..=120).contains(&secs), "{secs}");
        assert_eq!(after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(0), "past: now");
        assert_eq!(after("soon"), None);
    }
}
