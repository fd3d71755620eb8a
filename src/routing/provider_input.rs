//! What a provider's settings may be: names, base URLs, model lists, weights and the
//! Responses mode, checked the same for the admin API and for providers seeded from
//! settings (the store takes only what passed).

use crate::error::ApiError;

/// A `responses` setting: `native`, `chat`, or `auto` (by base URL; stored as none).
pub fn validate_responses_mode(mode: &str) -> Result<Option<String>, ApiError> {
    match mode {
        "native" | "chat" => Ok(Some(mode.to_string())),
        "auto" => Ok(None),
        _ => Err(ApiError::invalid_param(
            "responses",
            "responses must be 'native', 'chat' or 'auto'",
        )),
    }
}

pub fn validate_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_param(
            "name",
            "name must be 1-64 characters of letters, digits, '-', '_' or '.'",
        ))
    }
}

/// A base URL: http or https with a host, no whitespace, no credentials, query or
/// fragment (the gateway appends API paths to it); stored without a trailing slash.
pub fn validate_base_url(url: &str) -> Result<String, ApiError> {
    let trimmed = url.trim().trim_end_matches('/');
    let valid = !trimmed.contains(char::is_whitespace)
        && !trimmed.contains(":///")
        && url::Url::parse(trimmed).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some_and(|h| !h.is_empty())
                && u.username().is_empty()
                && u.password().is_none()
                && u.query().is_none()
                && u.fragment().is_none()
        });
    if valid {
        Ok(trimmed.to_string())
    } else {
        Err(ApiError::invalid_param(
            "base_url",
            "base_url must be an http:// or https:// URL with a host (no credentials, query or fragment)",
        ))
    }
}

pub fn validate_models(list: &[String]) -> Result<(), ApiError> {
    if list.iter().any(|m| m.trim().is_empty() || m.len() > 200) {
        return Err(ApiError::invalid_param(
            "models",
            "models must be non-empty names or globs",
        ));
    }
    Ok(())
}

pub fn validate_weight(weight: i64) -> Result<u32, ApiError> {
    u32::try_from(weight)
        .ok()
        .filter(|w| *w <= 1_000_000)
        .ok_or_else(|| ApiError::invalid_param("weight", "weight must be 0..=1000000"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert!(validate_name("my-openai").is_ok());
        assert!(validate_name("a/b").is_err());
        assert!(validate_name("").is_err());
        assert!(validate_weight(-1).is_err());
        assert_eq!(validate_weight(3).unwrap(), 3);
    }

    #[test]
    fn base_urls_are_http_urls_with_a_host() {
        assert_eq!(
            validate_base_url(" https://api.openai.com/v1/ ").unwrap(),
            "https://api.openai.com/v1"
        );
        assert!(validate_base_url("http://127.0.0.1:9000").is_ok());
        for bad in [
            "ftp://x",
            "https://",
            "http:///v1",
            "https://user:pw@host/v1",
            "https://host/v1?key=1",
            "https://host/v1#x",
            "https://ho st/v1",
            "api.openai.com",
        ] {
            assert!(validate_base_url(bad).is_err(), "{bad}");
        }
    }
}
