//! What the dashboard shows, read from the admin API (the same routes as the web console):
//! one snapshot per refresh; a failed refresh keeps the last snapshot and says why.

use http::Method;
use serde_json::Value;

use crate::cli::http::Http;

/// One refresh's worth of the admin API.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    /// Requests and errors per minute over the last 30 minutes, oldest first.
    pub requests: Vec<u64>,
    pub errors: Vec<u64>,
    /// p95 latency per minute (ms; 0 where no calls).
    pub p95: Vec<u64>,
    pub summary: Value,
    pub keys: Vec<KeyRow>,
    pub top_tokens: Vec<(String, i64, f64)>,
    pub recent: Vec<Value>,
}

#[derive(Debug, Clone)]
pub struct KeyRow {
    pub provider: String,
    pub masked: String,
    pub state: String,
    pub healthy: bool,
    pub failures: u64,
    pub last_error: String,
}

fn key_state(k: &Value) -> (String, bool) {
    if k["enabled"] != true {
        return ("disabled".into(), false);
    }
    if k["cooling_down"] == true {
        return (
            format!(
                "cooling {}s",
                k["cooldown_remaining_secs"].as_u64().unwrap_or(0)
            ),
            false,
        );
    }
    match k["consecutive_failures"].as_u64().unwrap_or(0) {
        0 => ("healthy".into(), true),
        n => (format!("{n} failures in a row"), false),
    }
}

pub async fn fetch(http: &Http, url: &str, bearer: &str) -> Result<Snapshot, String> {
    let get =
        |path: String| async move { http.call(Method::GET, url, &path, Some(bearer), None).await };
    let series = get("/admin/metrics/series?window_minutes=30".into()).await?;
    let summary = get("/admin/metrics/summary?window_minutes=60".into()).await?;
    let providers = get("/providers".into()).await?;
    let recent = get("/admin/logs/requests?limit=50".into()).await?;
    let mut snap = Snapshot::default();
    for p in series["points"].as_array().into_iter().flatten() {
        snap.requests.push(p["requests"].as_u64().unwrap_or(0));
        snap.errors.push(p["errors"].as_u64().unwrap_or(0));
        snap.p95
            .push(p["p95_latency_ms"].as_f64().unwrap_or(0.0).round() as u64);
    }
    for p in providers["data"].as_array().into_iter().flatten() {
        let name = p["name"].as_str().unwrap_or_default().to_string();
        let path = format!(
            "/providers/{}/keys?limit=1000",
            super::super::call::enc(&name)
        );
        let keys = get(path).await?;
        for k in keys["data"].as_array().into_iter().flatten() {
            let (state, healthy) = key_state(k);
            snap.keys.push(KeyRow {
                provider: name.clone(),
                masked: k["masked_key"].as_str().unwrap_or_default().to_string(),
                state,
                healthy,
                failures: k["failures"].as_u64().unwrap_or(0),
                last_error: k["last_error"].as_str().unwrap_or_default().to_string(),
            });
        }
    }
    let mut tops: Vec<(String, i64, f64)> = summary["top_tokens"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t["name"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("token {}", t["key"].as_str().unwrap_or_default())),
                t["requests"].as_i64().unwrap_or(0),
                t["amount"].as_f64().unwrap_or(0.0),
            )
        })
        .collect();
    tops.sort_by(|a, b| b.2.total_cmp(&a.2));
    snap.top_tokens = tops;
    snap.recent = recent["data"].as_array().cloned().unwrap_or_default();
    snap.summary = summary;
    Ok(snap)
}
