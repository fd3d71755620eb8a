//! Database access through the sea-orm entities, one module per aggregate.
//! Actors and the CLI call these; handlers never do.

pub mod logs;
pub mod prices;
pub mod providers;
pub mod tokens;

/// A model list as stored (a JSON array of names or globs; NULL: every model).
pub fn models_to_db(models: &Option<Vec<String>>) -> Option<String> {
    models
        .as_ref()
        .map(|m| serde_json::Value::from(m.clone()).to_string())
}

/// Reads a stored model list. Fails closed: a value that is not a JSON array of strings
/// (a hand-edited row, say) becomes an empty list, which allows and serves nothing.
pub fn models_from_db(text: Option<&str>) -> Option<Vec<String>> {
    let text = text?;
    Some(serde_json::from_str(text).unwrap_or_else(|e| {
        log::error!("a stored model list is not a JSON array of strings ({e}): treated as empty");
        Vec::new()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_lists_round_trip_and_fail_closed() {
        let m = Some(vec!["gpt-4o*".to_string(), "o1".to_string()]);
        assert_eq!(models_from_db(models_to_db(&m).as_deref()), m);
        assert_eq!(models_from_db(None), None);
        assert_eq!(models_from_db(Some("gpt-4o")), Some(vec![]));
        assert_eq!(models_from_db(Some("{\"a\":1}")), Some(vec![]));
    }
}
