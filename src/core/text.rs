//! Text helpers with no dependencies.

/// `text` cut to at most `max` bytes at a character boundary, with `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Whether `c` is a control character (C0, DEL, C1): what a terminal acts on instead of
/// showing.
pub fn is_control(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
}

/// `text` safe for a terminal: control characters written as `\xNN` (nothing a client or
/// an upstream wrote can move the cursor, clear the screen or set a title).
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_control(c) {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Longest label kept of what a client names (an end user, a session), in bytes.
pub const MAX_LABEL_BYTES: usize = 256;

/// A label a client gave (an end user, a session id) as the gateway keeps it: trimmed,
/// control characters written as `\xNN`, at most [`MAX_LABEL_BYTES`] bytes (cut with `…`);
/// `None` when nothing is left.
pub fn label(text: &str) -> Option<String> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    Some(truncate(&printable(text), MAX_LABEL_BYTES))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_escaped() {
        assert_eq!(printable("plain é 你"), "plain é 你");
        assert_eq!(
            printable("a\u{1b}]0;pwned\u{7}b\u{1b}[2J\u{9b}c\u{7f}\n"),
            "a\\x1b]0;pwned\\x07b\\x1b[2J\\x9bc\\x7f\\x0a"
        );
    }
}
