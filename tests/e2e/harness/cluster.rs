//! Helpers of the cluster tests: a fresh Postgres database, waiting for a change to
//! reach an instance.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use super::*;

/// A fresh Postgres database, or `None` (with a note) when GATEWAY_TEST_DATABASE_URL is
/// unset; CI sets it, so these tests run there.
pub async fn postgres() -> Option<Backend> {
    match std::env::var("GATEWAY_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(Backend::postgres(&url).await),
        _ => {
            eprintln!("skipping: cluster tests need GATEWAY_TEST_DATABASE_URL (Postgres)");
            None
        }
    }
}

/// Polls `check` until it holds; the time it took.
pub async fn time_until<F, Fut>(limit: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    eventually(limit, || {
        let fut = check();
        async move { fut.await.then_some(()) }
    })
    .await
    .map(|_| started.elapsed())
}

/// Waits until every instance lists a model for `token`.
pub async fn serving(gateways: &[&Gateway], token: &str) {
    for gw in gateways {
        let ok = time_until(Duration::from_secs(5), || async {
            gw.get("/v1/models", token).await.1["data"]
                .as_array()
                .is_some_and(|d| !d.is_empty())
        })
        .await;
        assert!(ok.is_some(), "an instance never served the provider");
    }
}
