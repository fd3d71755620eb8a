//! Tables for people: the terminal admin's answers, a few columns per resource.

use serde_json::Value;

/// Which columns an answer is shown with.
#[derive(Debug, Clone, Copy)]
pub enum View {
    Providers,
    Keys,
    Tokens,
    Teams,
    /// A created token: its columns plus the plaintext.
    NewToken,
    Redirects,
    Prices,
    Logs,
    Summary,
    Distribution,
    AdminKeys,
    Audit,
    /// A deletion: one line.
    Done,
}

fn columns(view: View) -> &'static [&'static str] {
    match view {
        View::Providers => &[
            "name",
            "api_type",
            "base_url",
            "models",
            "weight",
            "enabled",
            "enabled_key_count",
        ],
        View::Keys => &[
            "id",
            "masked_key",
            "description",
            "weight",
            "enabled",
            "cooling_down",
            "failures",
        ],
        View::Tokens => &[
            "id",
            "name",
            "role",
            "enabled",
            "max_tokens",
            "max_amount",
            "total_tokens",
            "amount_spent",
            "requests",
            "team_id",
            "budget_period",
            "spent_tokens",
            "spent_amount",
            "resets_at",
            "expires_at",
        ],
        View::Teams => &[
            "id",
            "name",
            "enabled",
            "budget_period",
            "max_tokens",
            "max_amount",
            "spent_tokens",
            "spent_amount",
            "resets_at",
            "rpm",
            "tpm",
            "max_parallel",
        ],
        View::NewToken => &["id", "name", "role", "token"],
        View::Redirects => &["source", "target", "provider"],
        View::Prices => &[
            "model",
            "provider",
            "input_per_million",
            "output_per_million",
            "cached_input_per_million",
            "max_output_tokens",
        ],
        View::Logs => &[
            "id",
            "created_at",
            "token_id",
            "provider",
            "model",
            "status_code",
            "latency_ms",
            "total_tokens",
            "amount",
            "error_type",
        ],
        View::Distribution => &["model", "requests", "errors", "total_tokens", "amount"],
        View::AdminKeys => &["fingerprint", "name", "enabled", "created_at"],
        View::Audit => &["id", "created_at", "actor", "action", "resource"],
        View::Summary | View::Done => &[],
    }
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => crate::core::text::printable(s).into_owned(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(","),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{f:.6}")
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string(),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// Rows from a list answer (`data` / `items`) or a single object.
fn rows(answer: &Value) -> Vec<&Value> {
    for key in ["data", "items"] {
        if let Some(items) = answer.get(key).and_then(Value::as_array) {
            return items.iter().collect();
        }
    }
    vec![answer]
}

fn grid(cols: &[&str], rows: &[&Value]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| cols.iter().map(|c| cell(&r[*c])).collect())
        .collect();
    let widths: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([c.len()])
                .max()
                .unwrap_or(0)
                .min(60)
        })
        .collect();
    let line = |values: Vec<String>| {
        let padded: Vec<String> = values
            .iter()
            .zip(&widths)
            .map(|(v, w)| {
                let v: String = v.chars().take(*w).collect();
                format!("{v:<w$}", w = *w)
            })
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(cols.iter().map(|c| c.to_uppercase()).collect());
    for r in cells {
        out.push_str(&line(r));
    }
    out
}

pub fn render(view: View, answer: &Value) -> String {
    match view {
        View::Done => "done\n".into(),
        View::Summary => {
            let mut out = String::new();
            for key in [
                "window_minutes",
                "since",
                "requests",
                "success",
                "errors",
                "error_rate",
                "avg_latency_ms",
                "p95_latency_ms",
                "avg_first_token_ms",
                "prompt_tokens",
                "completion_tokens",
                "total_tokens",
                "amount",
            ] {
                out.push_str(&format!("{key:<20} {}\n", cell(&answer[key])));
            }
            for (title, key) in [
                ("TOP MODELS", "top_models"),
                ("TOP PROVIDERS", "top_providers"),
                ("TOP TOKENS", "top_tokens"),
            ] {
                let items: Vec<&Value> = answer[key]
                    .as_array()
                    .map(|a| a.iter().collect())
                    .unwrap_or_default();
                if !items.is_empty() {
                    out.push_str(&format!("\n{title}\n"));
                    out.push_str(&grid(
                        &["key", "requests", "errors", "total_tokens", "amount"],
                        &items,
                    ));
                }
            }
            out
        }
        View::Logs => {
            let mut out = grid(columns(view), &rows(answer));
            if let Some(c) = answer.get("next_cursor").and_then(Value::as_str) {
                out.push_str(&format!("next page: --cursor {c}\n"));
            }
            out
        }
        View::Audit => {
            let mut out = grid(columns(view), &rows(answer));
            if let Some(c) = answer.get("next_cursor").and_then(Value::as_str) {
                out.push_str(&format!("next page: --cursor {c}\n"));
            }
            out
        }
        _ => grid(columns(view), &rows(answer)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_have_headers_and_rows() {
        let answer = json!({"data": [
            {"source": "gpt-4", "target": "gpt-4o", "provider": null},
            {"source": "a", "target": "b", "provider": "p"},
        ]});
        let text = render(View::Redirects, &answer);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("SOURCE"));
        assert!(lines[1].contains("gpt-4o") && lines[1].ends_with('-'));
        assert_eq!(cell(&json!(0.5)), "0.5");
        assert_eq!(cell(&json!(["a", "b"])), "a,b");
    }
}
