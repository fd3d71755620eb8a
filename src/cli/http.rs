//! The terminal admin's HTTP calls: JSON in, JSON out, errors as one line.

use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::Value;

use crate::core::text::printable;
use crate::settings::Settings;
use crate::upstream::http::{HttpConfig, UpstreamHttp};

pub struct Http {
    client: UpstreamHttp,
}

impl Http {
    pub fn new(settings: &Settings) -> Result<Http, String> {
        let config = HttpConfig::load(&settings.upstream)?;
        Ok(Http {
            client: UpstreamHttp::new(&config),
        })
    }

    /// `method url+path` with an optional Bearer and JSON body; the answer's JSON, or the
    /// gateway's error as `<status> <type>: <message>`.
    pub async fn call(
        &self,
        method: http::Method,
        url: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let full = format!("{}{path}", url.trim_end_matches('/'));
        let mut headers = Vec::new();
        if let Some(b) = bearer {
            headers.push((http::header::AUTHORIZATION, format!("Bearer {b}")));
        }
        let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let response = self
            .client
            .send(method, &full, &headers, body)
            .await
            .map_err(|e| format!("cannot reach {full}: {e}"))?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("cannot read the answer of {full}: {e}"))?
            .to_bytes();
        // Everything the answer holds was written by someone (a client's model or token
        // name, an upstream's error): nothing of it reaches the terminal raw.
        let mut value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        printable_strings(&mut value);
        if !status.is_success() {
            let message = value
                .pointer("/error/message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(300).collect());
            let kind = value
                .pointer("/error/type")
                .and_then(Value::as_str)
                .unwrap_or("error");
            return Err(format!(
                "{} {kind}: {}",
                status.as_u16(),
                printable(&message)
            ));
        }
        Ok(value)
    }
}

/// Escapes the control characters of every string (and key) of an answer.
pub fn printable_strings(value: &mut Value) {
    match value {
        Value::String(s) => {
            if let std::borrow::Cow::Owned(clean) = printable(s) {
                *s = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(printable_strings),
        Value::Object(map) => {
            let dirty = map
                .keys()
                .any(|k| k.chars().any(crate::core::text::is_control));
            if dirty {
                *map = std::mem::take(map)
                    .into_iter()
                    .map(|(k, v)| (printable(&k).into_owned(), v))
                    .collect();
            }
            map.values_mut().for_each(printable_strings);
        }
        _ => {}
    }
}
