//! Spend alerts (contract section 3): when a token's or team's period usage first reaches a
//! threshold, a signed event is POSTed to the webhook — once per subject, threshold and
//! period even across a cluster, retried while the receiver fails, and in the audit trail.
//! The receiver is a real HTTP server in this test.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::harness::*;

const SECRET: &str = "alert-secret-for-tests";

/// What the receiver got: (signature header, body, status it answered).
type Received = Arc<Mutex<Vec<(String, Vec<u8>, u16)>>>;

/// A webhook receiver that fails its first `fail_first` deliveries with 500.
fn receiver(fail_first: usize) -> (String, Received) {
    let got: Received = Arc::default();
    let state = got.clone();
    let server = HttpServer::new(move || {
        let state = state.clone();
        App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
            let state = state.clone();
            async move {
                let sig = req
                    .headers()
                    .get("x-gateway-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let mut got = state.lock().unwrap();
                let status = if got.len() < fail_first { 500 } else { 200 };
                got.push((sig, body.to_vec(), status));
                HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).finish()
            }
        }))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    actix_web::rt::spawn(server.run());
    (format!("http://127.0.0.1:{port}/hook"), got)
}

fn signed(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The events delivered (answered 200), checked for their signature.
fn delivered(got: &Received) -> Vec<Value> {
    got.lock()
        .unwrap()
        .iter()
        .filter(|(_, _, status)| *status == 200)
        .map(|(sig, body, _)| {
            assert_eq!(
                sig,
                &signed(body),
                "a delivery's signature does not match its body"
            );
            serde_json::from_slice(body).unwrap()
        })
        .collect()
}

fn thresholds(events: &[Value], kind: &str) -> Vec<f64> {
    let mut t: Vec<f64> = events
        .iter()
        .filter(|e| e["subject"]["kind"] == kind)
        .map(|e| e["threshold"].as_f64().unwrap())
        .collect();
    t.sort_by(f64::total_cmp);
    t
}

#[actix_web::test]
async fn thresholds_are_alerted_once_signed_retried_and_audited() {
    for backend in Backend::all().await {
        let (url, got) = receiver(1);
        let env = [
            ("GATEWAY__ALERTS__WEBHOOK_URL", url.as_str()),
            ("GATEWAY__ALERTS__WEBHOOK_SECRET", SECRET),
        ];
        let (_mock, gw) =
            gateway_with_mock(&backend, &env, json!(["m"]), &["sk-alert-key-000001"]).await;
        let (status, team) = gw
            .admin_send(
                "POST",
                "/admin/teams",
                &json!({"name": "alerted", "max_amount": 1.0, "budget_period": "monthly"}),
            )
            .await;
        assert_eq!(status, 201, "{team}");
        price(&gw, "m", Some(1000)).await;
        let (token_id, token) =
            token_with(&gw, json!({"max_tokens": 1000, "team_id": team["id"]})).await;
        let mut body = chat("m");
        body["mock"] = json!({"default_tokens": 100});
        while gw.post("/v1/chat/completions", &token, &body).await.0 == 200 {}
        // The token crossed 50 % and 80 % of its 1,000 tokens (and maybe 100 %); the team's
        // dollar budget is far from any threshold. The first delivery failed: retried.
        let events = eventually(Duration::from_secs(15), || async {
            let events = delivered(&got);
            (thresholds(&events, "token").len() >= 2).then_some(events)
        })
        .await
        .unwrap_or_else(|| panic!("alerts not delivered: {:?}", got.lock().unwrap().len()));
        let token_thresholds = thresholds(&events, "token");
        assert_eq!(&token_thresholds[..2], &[0.5, 0.8], "{events:?}");
        let mut unique = token_thresholds.clone();
        unique.dedup();
        assert_eq!(
            unique, token_thresholds,
            "a threshold alerted twice: {events:?}"
        );
        assert!(thresholds(&events, "team").is_empty(), "{events:?}");
        assert!(
            got.lock().unwrap().iter().any(|(_, _, s)| *s == 500),
            "the failed first delivery was not retried"
        );
        let half = events.iter().find(|e| e["threshold"] == 0.5).unwrap();
        assert_eq!(half["event"], "budget.threshold");
        assert_eq!(half["subject"]["id"], token_id);
        assert_eq!(half["unit"], "tokens");
        assert_eq!(half["limit"], 1000);
        assert!(half["spent"].as_i64().unwrap() >= 500, "{half}");
        assert_eq!(half["resets_at"], Value::Null, "a lifetime budget: {half}");
        assert!(half["at"].is_string());
        // In the audit trail, once per threshold.
        let (_, audit) = gw
            .admin_send("GET", "/admin/audit?limit=100", &Value::Null)
            .await;
        let alerts: Vec<&Value> = audit["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "alert")
            .collect();
        assert_eq!(alerts.len(), token_thresholds.len(), "{audit}");
        // More calls refused, nothing alerted again.
        gw.post("/v1/chat/completions", &token, &body).await;
        actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(thresholds(&delivered(&got), "token"), token_thresholds);
        backend.drop_database().await;
    }
}

/// Two instances, one team: each threshold is delivered once across the cluster.
#[actix_web::test]
async fn a_threshold_is_alerted_once_across_a_cluster() {
    let Some(backend) = postgres().await else {
        return;
    };
    let (url, got) = receiver(0);
    let env = [
        ("GATEWAY__ALERTS__WEBHOOK_URL", url.as_str()),
        ("GATEWAY__ALERTS__WEBHOOK_SECRET", SECRET),
        ("GATEWAY__ALERTS__THRESHOLDS", "0.1,0.2,0.3,0.4,0.5"),
    ];
    let mock = Mock::start();
    let a = Gateway::start(&backend, &env);
    let b = Gateway::start(&backend, &env);
    a.add_provider("shared", &mock, json!(["m"]), &["sk-alert-key-000002"])
        .await;
    let (_, team) = a
        .admin_send(
            "POST",
            "/admin/teams",
            &json!({"name": "both", "max_tokens": 2000}),
        )
        .await;
    let (_, token) = token_with(&a, json!({"team_id": team["id"]})).await;
    serving(&[&a, &b], &token).await;
    let mut body = chat("m");
    body["mock"] = json!({"default_tokens": 50});
    body["max_tokens"] = json!(50);
    for i in 0..30 {
        let gw = if i % 2 == 0 { &a } else { &b };
        assert_eq!(gw.post("/v1/chat/completions", &token, &body).await.0, 200);
    }
    // ~30 × 60 tokens of 2,000: every threshold up to 0.5 is crossed (seen by both).
    let events = eventually(Duration::from_secs(15), || async {
        let events = delivered(&got);
        (thresholds(&events, "team").len() >= 5).then_some(events)
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "team alerts not delivered: {:?}",
            thresholds(&delivered(&got), "team")
        )
    });
    actix_web::rt::time::sleep(Duration::from_millis(2500)).await;
    let team_thresholds = thresholds(&delivered(&got), "team");
    assert_eq!(team_thresholds, [0.1, 0.2, 0.3, 0.4, 0.5], "{events:?}");
    backend.drop_database().await;
}
