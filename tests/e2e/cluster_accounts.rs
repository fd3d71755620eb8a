//! What a client or an admin reads is the cluster's, whichever instance answers: balances,
//! usage and token lists (contract section 7), and login attempt limits.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;

#[actix_web::test]
async fn every_instance_answers_the_clusters_balance() {
    let Some(backend) = postgres().await else {
        return;
    };
    let mock = Mock::start();
    let a = Gateway::start(&backend, &[]);
    let b = Gateway::start(&backend, &[]);
    a.add_provider("shared", &mock, json!(["m"]), &["sk-balance-0001"])
        .await;
    let token = a.token(&backend, &["--name", "app", "--max-tokens", "1000"]);
    serving(&[&a, &b], &token).await;
    let (_, before) = a.get("/v1/token/usage", &token).await;
    for _ in 0..3 {
        let (status, body) = b.post("/v1/chat/completions", &token, &chat("m")).await;
        assert_eq!(status, 200, "{body}");
    }
    let requests = before["requests"].as_i64().unwrap() + 3;
    // Within a sync interval (200 ms here) of the usage being written, A tells the same.
    let same = eventually(Duration::from_secs(3), || async {
        let (_, on_a) = a.get("/v1/token/balance", &token).await;
        let (_, on_b) = b.get("/v1/token/balance", &token).await;
        let (_, usage_a) = a.get("/v1/token/usage", &token).await;
        (on_a == on_b && usage_a["requests"] == requests).then_some((on_a, usage_a))
    })
    .await;
    let (balance, usage) = same.expect("A shows B's usage");
    assert!(
        balance["tokens_remaining"].as_i64().unwrap() < 1000,
        "{balance}"
    );
    assert!(usage["total_tokens"].as_i64().unwrap() > 0, "{usage}");
    // The admin token list on A counts them too.
    let (_, list) = a.get("/admin/tokens", &a.admin).await;
    let rows = list.as_array().or_else(|| list["data"].as_array()).unwrap();
    let app = rows.iter().find(|t| t["name"] == "app").unwrap();
    let used = |v: &Value| {
        v.get("total_tokens")
            .or_else(|| v.pointer("/usage/total_tokens"))
            .and_then(Value::as_i64)
    };
    assert_eq!(used(app), usage["total_tokens"].as_i64(), "{app}");
    backend.drop_database().await;
}

#[actix_web::test]
async fn login_attempts_count_across_instances() {
    let Some(backend) = postgres().await else {
        return;
    };
    let limits = [
        ("GATEWAY__AUTH__LOGIN_ATTEMPTS_PER_MINUTE_PER_KEY", "3"),
        (
            "GATEWAY__AUTH__LOGIN_ATTEMPTS_PER_MINUTE_PER_ADDRESS",
            "100",
        ),
    ];
    let a = Gateway::start(&backend, &limits);
    let b = Gateway::start(&backend, &limits);
    let fp = fingerprint(&gateway_key(&backend));
    // The limit counts per minute: keep clear of a minute's end.
    while crate::harness::unix_ms() % 60_000 > 55_000 {
        actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    }
    let mut statuses = Vec::new();
    for gw in [&a, &b, &a, &b] {
        statuses.push(challenge(gw, &fp).await.0);
    }
    assert_eq!(statuses, [200, 200, 200, 429], "3 per minute, cluster-wide");
    backend.drop_database().await;
}
