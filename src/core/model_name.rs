//! Model names: `*` globs and the `provider/model` split.

/// Matches `text` against a pattern where `*` stands for any run of characters.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == text;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// True when any pattern matches. An absent list matches everything.
pub fn any_match(patterns: Option<&[String]>, name: &str) -> bool {
    match patterns {
        None => true,
        Some(list) => list.iter().any(|p| glob_match(p, name)),
    }
}

/// Splits `provider/model` when the prefix is a known provider; otherwise the whole string
/// is a bare model name (so `meta-llama/Llama-3-8B` stays intact).
pub fn split_provider(requested: &str, is_provider: impl Fn(&str) -> bool) -> (Option<&str>, &str) {
    match requested.split_once('/') {
        Some((prefix, model)) if !model.is_empty() && is_provider(prefix) => (Some(prefix), model),
        _ => (None, requested),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("gpt-4o*", "gpt-4o-mini"));
        assert!(glob_match("gpt-4o*", "gpt-4o"));
        assert!(!glob_match("gpt-4o*", "gpt-4"));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("claude-*-sonnet*", "claude-3-5-sonnet-latest"));
        assert!(!glob_match("claude-*-sonnet", "claude-3-5-sonnet-latest"));
        assert!(glob_match("a*a", "aa"));
        assert!(!glob_match("a*a", "a"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exact2"));
    }

    #[test]
    fn provider_split() {
        let known = |p: &str| p == "openai" || p == "my-ds";
        assert_eq!(
            split_provider("openai/gpt-4o", known),
            (Some("openai"), "gpt-4o")
        );
        assert_eq!(
            split_provider("meta-llama/Llama-3-8B", known),
            (None, "meta-llama/Llama-3-8B")
        );
        assert_eq!(split_provider("gpt-4o", known), (None, "gpt-4o"));
        assert_eq!(split_provider("openai/", known), (None, "openai/"));
        assert_eq!(
            split_provider("my-ds/org/model", known),
            (Some("my-ds"), "org/model")
        );
    }

    #[test]
    fn lists() {
        let list = vec!["gpt-*".to_string(), "o1".to_string()];
        assert!(any_match(Some(&list), "gpt-4"));
        assert!(any_match(Some(&list), "o1"));
        assert!(!any_match(Some(&list), "o1-mini"));
        assert!(any_match(None, "whatever"));
        assert!(!any_match(Some(&[]), "whatever"));
    }
}
