//! Budget periods (contract section 3): only the current period's usage counts; a new
//! period gives the whole allowance back at once with no job to run; lifetime usage stays;
//! a changed period starts afresh (never inheriting old spend); a refusal says when the
//! budget resets, in the client's own error shape.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;

fn call() -> Value {
    let mut body = chat("m");
    body["mock"] = json!({"default_tokens": 100});
    body
}

#[actix_web::test]
async fn a_new_period_gives_the_whole_allowance_back() {
    // Both backends at once: the period is a minute long.
    let backends = Backend::all().await;
    let mut setups = Vec::new();
    for backend in &backends {
        let (mock, gw) =
            gateway_with_mock(backend, &[], json!(["m"]), &["sk-period-key-00001"]).await;
        let (id, token) = token_with(&gw, json!({"max_tokens": 400, "budget_period": "1m"})).await;
        let mut served = 0;
        let refusal = loop {
            let (s, resp) = gw.post("/v1/chat/completions", &token, &call()).await;
            match s.as_u16() {
                200 => served += 1,
                429 => break resp,
                other => panic!("{other}: {resp}"),
            }
            assert!(served < 50, "a 400-token budget served {served} calls");
        };
        let message = refusal["error"]["message"].as_str().unwrap().to_string();
        assert!(message.contains("resets at"), "{message}");
        let (_, balance) = gw.get("/v1/token/balance", &token).await;
        assert_eq!(balance["budget_period"], "1m", "{balance}");
        let resets = balance["resets_at"].as_str().unwrap().to_string();
        assert!(balance["period_started_at"].is_string(), "{balance}");
        assert!(message.contains(&resets[..19]), "{message} vs {resets}");
        setups.push((mock, gw, id, token, served, resets));
    }
    // Wait for the latest reset, then the whole allowance is back on every backend.
    let latest = setups.iter().map(|s| s.5.clone()).max().unwrap();
    let until: chrono::DateTime<chrono::Utc> = latest.parse().unwrap();
    let wait = (until.timestamp_millis() as i128 - unix_ms() as i128 + 1500).max(0) as u64;
    assert!(wait <= 62_000, "a one-minute period resets in {wait} ms");
    actix_web::rt::time::sleep(Duration::from_millis(wait)).await;
    for ((_mock, gw, id, token, served, _), backend) in setups.iter().zip(&backends) {
        let mut again = 0;
        while gw.post("/v1/chat/completions", token, &call()).await.0 == 200 {
            again += 1;
            assert!(again < 50);
        }
        assert_eq!(
            again, *served,
            "the new period served {again}, the first {served}"
        );
        let (_, balance) = gw.get("/v1/token/balance", token).await;
        let lifetime = balance["usage"]["total_tokens"].as_i64().unwrap();
        assert!(lifetime > 400, "lifetime usage kept: {balance}");
        // The database's period counter holds only this period's usage.
        let db = backend.connect().await;
        let row = settled_row(&db, *id, 2 * served + 2).await;
        assert!(row.period_tokens <= 400, "{row:?}");
        assert!(row.total_tokens > 400 && row.period_start > 0, "{row:?}");
        backend.drop_database().await;
    }
}

#[actix_web::test]
async fn a_period_set_later_starts_afresh_and_refusals_are_anthropic_shaped_on_messages() {
    for backend in Backend::all().await {
        let mock = Mock::start();
        let gw = Gateway::start(&backend, &[]);
        gw.add_provider("mock", &mock, json!(["m"]), &["sk-period-key-00002"])
            .await;
        add_claude(&gw, &mock, "sk-ant-period-000002").await;
        let (id, token) = token_with(&gw, json!({"max_tokens": 300})).await;
        while gw.post("/v1/chat/completions", &token, &call()).await.0 == 200 {}
        let (_, view) = gw
            .admin_send("GET", &format!("/admin/tokens/{id}"), &Value::Null)
            .await;
        assert_eq!(
            view["resets_at"],
            Value::Null,
            "a lifetime budget never resets: {view}"
        );
        // A daily period set now starts with nothing spent (it inherits no old spend).
        let (s, view) = gw
            .admin_send(
                "PATCH",
                &format!("/admin/tokens/{id}"),
                &json!({"budget_period": "daily"}),
            )
            .await;
        assert_eq!(s, 200, "{view}");
        assert_eq!(
            (
                view["budget_period"].as_str(),
                view["spent_tokens"].as_i64()
            ),
            (Some("daily"), Some(0)),
            "{view}"
        );
        assert!(view["total_tokens"].as_i64().unwrap() > 0);
        // In a cluster, usage settled but not yet written is still held in the database
        // (it moves to the old period when the batch writes it): until then it counts
        // against the new period, erring on the safe side for one flush interval.
        let served = eventually(Duration::from_secs(5), || async {
            (gw.post("/v1/chat/completions", &token, &call()).await.0 == 200).then_some(())
        })
        .await;
        assert!(served.is_some(), "the new period never served a call");
        while gw.post("/v1/chat/completions", &token, &call()).await.0 == 200 {}
        // Refused on /v1/messages: Anthropic's error shape, with the reset in the message.
        let body = json!({"model": "claude-x", "max_tokens": 50,
                          "messages": [{"role": "user", "content": "hi"}]});
        let resp = loop {
            let (status, resp) = anthropic_call(&gw, "/v1/messages", &token, &body).await;
            match status {
                200 => {}
                429 => break resp,
                other => panic!("{other}: {resp}"),
            }
        };
        assert_eq!(resp["type"], "error", "{resp}");
        let message = resp["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("resets at") && message.contains("T00:00:00Z"),
            "{message}"
        );
        // Back to a lifetime budget: the whole life counts again, so it stays refused.
        let (_, view) = gw
            .admin_send(
                "PATCH",
                &format!("/admin/tokens/{id}"),
                &json!({"budget_period": "none"}),
            )
            .await;
        assert_eq!(view["spent_tokens"], view["total_tokens"], "{view}");
        assert_eq!(
            gw.post("/v1/chat/completions", &token, &call()).await.0,
            429
        );
        backend.drop_database().await;
    }
}
