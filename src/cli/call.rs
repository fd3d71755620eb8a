//! One terminal-admin command as a REST call: method, path, body and how to print the
//! answer; and the small encoders the commands share.

use http::Method;
use serde_json::{Map, Value};

use super::table;

/// One REST call and how to print its answer.
pub(super) struct Call {
    pub(super) method: Method,
    pub(super) path: String,
    pub(super) body: Option<Value>,
    pub(super) view: table::View,
    /// Keep only the `data` item whose fields have these values (`show` over a list route).
    pub(super) pick: Vec<(&'static str, Value)>,
}

impl Call {
    pub(super) fn new(method: Method, path: impl Into<String>, view: table::View) -> Call {
        Call {
            method,
            path: path.into(),
            body: None,
            view,
            pick: Vec::new(),
        }
    }

    pub(super) fn body(mut self, body: Value) -> Call {
        self.body = Some(body);
        self
    }

    pub(super) fn pick(mut self, field: &'static str, value: Value) -> Call {
        self.pick.push((field, value));
        self
    }
}

/// Percent-encodes a path segment or query value.
pub(crate) fn enc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(super) fn query(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", enc(v))))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// A JSON object of the fields that were given.
pub(super) fn object(fields: Vec<(&str, Option<Value>)>) -> Value {
    let map: Map<String, Value> = fields
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
        .collect();
    Value::Object(map)
}
