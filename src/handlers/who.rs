//! Who a call is for, as its log row names them: the end user (the `x-gateway-end-user`
//! header wins over what the body names: OpenAI's `user` / `safety_identifier`,
//! Anthropic's `metadata.user_id`) and the session (`x-claude-code-session-id`, else
//! `x-session-id`), each a bounded label with control characters escaped.

use actix_web::http::header::HeaderName;
use actix_web::HttpRequest;

use crate::core::text::label;

// Header names as constants: a lookup by `&str` parses (and, for a name outside the
// standard table, allocates) a `HeaderName` on every call.
const CLAUDE_CODE_SESSION: HeaderName = HeaderName::from_static("x-claude-code-session-id");
const SESSION: HeaderName = HeaderName::from_static("x-session-id");
const END_USER: HeaderName = HeaderName::from_static("x-gateway-end-user");

fn header_label(req: &HttpRequest, name: &HeaderName) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
        .and_then(label)
}

/// The session the client named, if any.
pub fn session(req: &HttpRequest) -> Option<String> {
    header_label(req, &CLAUDE_CODE_SESSION).or_else(|| header_label(req, &SESSION))
}

/// The end user: the header's, else the body's (`from_body`).
pub fn end_user(req: &HttpRequest, from_body: Option<String>) -> Option<String> {
    header_label(req, &END_USER).or(from_body)
}

/// The end user a body names: the first of `fields` that is a non-empty string, as a
/// label (OpenAI's `user`, then `safety_identifier`; Anthropic's `metadata.user_id`).
pub fn from_body(fields: &[Option<&serde_json::Value>]) -> Option<String> {
    fields
        .iter()
        .flatten()
        .find_map(|v| v.as_str().and_then(label))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn headers_win_and_labels_are_bounded_and_printable() {
        let req = TestRequest::default()
            .insert_header(("x-gateway-end-user", "  alice  "))
            .insert_header(("x-session-id", "s-1"))
            .to_http_request();
        assert_eq!(end_user(&req, Some("bob".into())).as_deref(), Some("alice"));
        assert_eq!(session(&req).as_deref(), Some("s-1"));
        let req = TestRequest::default()
            .insert_header(("x-claude-code-session-id", "cc-9"))
            .insert_header(("x-session-id", "s-1"))
            .to_http_request();
        assert_eq!(session(&req).as_deref(), Some("cc-9"));
        assert_eq!(end_user(&req, Some("bob".into())).as_deref(), Some("bob"));
        assert_eq!(label("a\u{1b}[2Jb").as_deref(), Some("a\\x1b[2Jb"));
        assert!(label(&"x".repeat(10_000)).unwrap().len() <= 260);
        assert_eq!(label("   "), None);
    }
}
