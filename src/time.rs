//! Timestamps are Unix milliseconds in storage, RFC 3339 at the API.

use chrono::{DateTime, SecondsFormat, Utc};

/// Wall-clock time, Unix ms — shifted by `GATEWAY_CLOCK_SKEW_MS` when set, which lets tests
/// (and anyone checking a deployment) run an instance whose clock disagrees with the
/// others. Nothing that instances compare with each other is taken from this clock.
pub fn now_ms() -> i64 {
    static SKEW: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let skew = *SKEW.get_or_init(|| {
        std::env::var("GATEWAY_CLOCK_SKEW_MS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    });
    Utc::now().timestamp_millis().saturating_add(skew)
}

pub fn to_rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn parse_rfc3339(text: &str) -> Result<i64, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|_| format!("'{text}' is not an RFC 3339 timestamp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let ms = parse_rfc3339("2030-01-02T03:04:05Z").unwrap();
        assert_eq!(to_rfc3339(ms), "2030-01-02T03:04:05.000Z");
        assert_eq!(parse_rfc3339("2030-01-02T05:04:05+02:00").unwrap(), ms);
        assert!(parse_rfc3339("tomorrow").is_err());
    }
}
