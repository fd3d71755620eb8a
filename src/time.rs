//! Timestamps are Unix milliseconds in storage, RFC 3339 at the API.

use chrono::{DateTime, SecondsFormat, Utc};

pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
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
