//! Hostile clients, failing keys and damaged data: each costs little, changes nothing it
//! must not, and fails closed.

use std::time::{Duration, Instant};

use entity::request_log;
use futures::future::join_all;
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};
use serde_json::{json, Value};

use crate::harness::*;

#[actix_web::test]
async fn long_model_names_are_refused_at_once() {
    let backend = Backend::sqlite();
    let (_mock, gw) = gateway_with_mock(&backend, &[], json!(["*"]), &["sk-long-name-0001"]).await;
    let huge = "a-".repeat(150_000);
    let started = Instant::now();
    let (status, body) = gw
        .post("/v1/chat/completions", &gw.admin, &chat(&huge))
        .await;
    let took = started.elapsed();
    assert_error(status, &body, 400, "invalid_request_error", None);
    assert_eq!(body["error"]["param"], "model");
    assert!(body.to_string().len() < 1000, "the name is not echoed back");
    println!("300 KB model name answered in {took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    let (status, _) = gw
        .post("/v1/chat/completions", &gw.admin, &chat(&"m".repeat(257)))
        .await;
    assert_eq!(status, 400);
    let (status, body) = gw
        .post("/v1/chat/completions", &gw.admin, &chat(&"m".repeat(256)))
        .await;
    assert_eq!(status, 200, "256 bytes are allowed: {body}");
}

#[actix_web::test]
async fn junk_tokens_cost_nothing_durable() {
    for backend in Backend::all().await {
        let (_mock, gw) =
            gateway_with_mock(&backend, &[], json!(["gpt-4o-mini"]), &["sk-junk-key-0001"]).await;
        let url = gw.url("/v1/chat/completions");
        let body = serde_json::to_vec(&chat("gpt-4o-mini")).unwrap();
        let started = Instant::now();
        for wave in 0..20 {
            let calls = (0..50).map(|i| {
                let token = format!("gz-junk-{wave}-{i}-{:016x}", rand::random::<u64>());
                let (url, body) = (url.clone(), body.clone());
                async move {
                    send_raw("POST", &url, Some(&token), Some("application/json"), body)
                        .await
                        .0
                }
            });
            for status in join_all(calls).await {
                assert_eq!(status, 401);
            }
        }
        println!(
            "{}: 1000 random tokens answered in {:?}",
            backend.label,
            started.elapsed()
        );
        // A token created during the flood works within the sync interval.
        let fresh = gw.token(&backend, &["--name", "after-the-flood"]);
        let ok = eventually(Duration::from_secs(3), || async {
            let (status, _) = gw
                .post("/v1/chat/completions", &fresh, &chat("gpt-4o-mini"))
                .await;
            (status == 200).then_some(())
        })
        .await;
        assert!(ok.is_some(), "a new token is accepted during a flood");
        let db = backend.connect().await;
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        let rows = request_log::Entity::find().count(&db).await.unwrap();
        assert!(
            rows <= 3,
            "{}: {rows} log rows: 401s must not write rows",
            backend.label
        );
        let reported = eventually(Duration::from_secs(2), || async {
            gw.logs().contains("refused with 401").then_some(())
        })
        .await;
        assert!(reported.is_some(), "the rejections are reported in the log");
        backend.drop_database().await;
    }
}

async fn key_view(gw: &Gateway, provider: &str, id: i64) -> Value {
    let (_, keys) = gw
        .admin_send("GET", &format!("/providers/{provider}/keys"), &Value::Null)
        .await;
    keys["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .cloned()
        .unwrap()
}

#[actix_web::test]
async fn failing_keys_trip_a_breaker_and_honour_what_upstreams_say() {
    let backend = Backend::sqlite();
    let mock = Mock::start();
    let gw = Gateway::start(&backend, &[]);
    let (bad, good) = ("sk-breaker-bad-0001", "sk-breaker-good-001");
    let ids = gw
        .add_provider("p", &mock, json!(["m"]), &[bad, good])
        .await;
    // A key answering 500 again and again is cooled down after 3 in a row, not tried on
    // every other call.
    mock.fault(json!({"key": bad, "status": 500})).await;
    for _ in 0..20 {
        let (status, body) = gw.post("/v1/chat/completions", &gw.admin, &chat("m")).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(mock.calls_for(bad).await, 3);
    let view = key_view(&gw, "p", ids[0]).await;
    assert_eq!(view["cooling_down"], true, "{view}");

    // Retry-After sets the cool-down.
    mock.reset().await;
    let gw2_backend = Backend::sqlite();
    let gw2 = Gateway::start(&gw2_backend, &[]);
    let ids = gw2
        .add_provider("q", &mock, json!(["m"]), &[bad, good])
        .await;
    mock.fault(json!({"key": bad, "status": 429, "retry_after": 7, "times": 1}))
        .await;
    for _ in 0..2 {
        gw2.post("/v1/chat/completions", &gw2.admin, &chat("m"))
            .await;
    }
    let view = key_view(&gw2, "q", ids[0]).await;
    let left = view["cooldown_remaining_secs"].as_u64().unwrap();
    assert!((6..=7).contains(&left), "{view}");

    // An account out of quota is benched for long.
    mock.fault(json!({"key": good, "status": 429, "times": 1,
        "message": "You exceeded your current quota, please check your plan and billing details."}))
        .await;
    for _ in 0..2 {
        gw2.post("/v1/chat/completions", &gw2.admin, &chat("m"))
            .await;
    }
    let view = key_view(&gw2, "q", ids[1]).await;
    assert!(
        view["cooldown_remaining_secs"].as_u64().unwrap() > 3000,
        "{view}"
    );

    // A request error is the client's: passed back, and the key is not cooled.
    let backend3 = Backend::sqlite();
    let gw3 = Gateway::start(&backend3, &[]);
    let ids = gw3.add_provider("r", &mock, json!(["m"]), &[bad]).await;
    mock.reset().await;
    mock.fault(json!({"status": 400, "message": "temperature must be at most 2"}))
        .await;
    for _ in 0..5 {
        let (status, body) = gw3
            .post("/v1/chat/completions", &gw3.admin, &chat("m"))
            .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["message"], "temperature must be at most 2");
    }
    let view = key_view(&gw3, "r", ids[0]).await;
    assert_eq!(view["cooling_down"], false, "{view}");
    assert_eq!(mock.stats().await["total"], 5);
}

#[actix_web::test]
async fn damaged_rows_fail_closed_and_database_errors_stay_private() {
    for backend in Backend::all().await {
        let (_mock, gw) = gateway_with_mock(
            &backend,
            &[],
            json!(["gpt-4o-mini"]),
            &["sk-damaged-key-0001"],
        )
        .await;
        let (status, created) = gw
            .admin_send(
                "POST",
                "/admin/tokens",
                &json!({"name": "narrow", "allowed_models": ["gpt-4o-mini"]}),
            )
            .await;
        assert_eq!(status, 201);
        let token = created["token"].as_str().unwrap().to_string();
        let id = created["id"].as_i64().unwrap();
        let (status, _) = gw
            .post("/v1/chat/completions", &token, &chat("gpt-4o-mini"))
            .await;
        assert_eq!(status, 200);
        let (_, other) = gw
            .admin_send("POST", "/admin/tokens", &json!({"name": "other"}))
            .await;
        let other_token = other["token"].as_str().unwrap().to_string();
        let (status, _) = gw.get("/v1/token/balance", &other_token).await;
        assert_eq!(status, 200);
        // Someone edits rows by hand: a broken list, a role this build does not know.
        let db = backend.connect().await;
        let now = gateway_zero::time::now_ms();
        db.execute_unprepared(&format!(
            "UPDATE tokens SET allowed_models = 'gpt-4o-mini, o1', updated_at = {now} WHERE id = {id}"
        ))
        .await
        .unwrap();
        db.execute_unprepared(&format!(
            "UPDATE tokens SET role = 'superuser', updated_at = {now} WHERE id = {}",
            other["id"]
        ))
        .await
        .unwrap();
        let denied = eventually(Duration::from_secs(3), || async {
            let (status, _) = gw
                .post("/v1/chat/completions", &token, &chat("gpt-4o-mini"))
                .await;
            (status == 403).then_some(())
        })
        .await;
        assert!(
            denied.is_some(),
            "{}: an unreadable allow-list denies",
            backend.label
        );

        // The database fails under a look-up: a generic 500, the detail only in the log.
        db.execute_unprepared("ALTER TABLE tokens RENAME TO tokens_gone")
            .await
            .unwrap();
        let mut req = client()
            .post(gw.url("/v1/chat/completions"))
            .insert_header(("authorization", "Bearer gz-not-in-memory-0001"));
        req = req.insert_header(("content-type", "application/json"));
        let mut resp = req.send_json(&chat("gpt-4o-mini")).await.unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        let request_id = resp
            .headers()
            .get("x-request-id")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert_error(status, &body, 500, "internal_error", None);
        let text = body.to_string().to_ascii_lowercase();
        assert!(
            !text.contains("tokens") && !text.contains("relation") && !text.contains("sql"),
            "{body}"
        );
        let logged = eventually(Duration::from_secs(2), || async {
            gw.logs()
                .lines()
                .any(|l| l.contains(&request_id) && l.contains("cannot look up token"))
                .then_some(())
        })
        .await;
        assert!(logged.is_some(), "the detail is logged with {request_id}");
        db.execute_unprepared("ALTER TABLE tokens_gone RENAME TO tokens")
            .await
            .unwrap();
        backend.drop_database().await;
    }
}

#[actix_web::test]
async fn a_deleted_bootstrap_token_stays_deleted_and_start_up_goes_on() {
    for backend in Backend::all().await {
        let mut gw = Gateway::start(&backend, &[]);
        let bootstrap = gw.admin.clone();
        let other_admin = gw.token(&backend, &["--admin", "--name", "second-admin"]);
        let (_, list) = gw.get("/admin/tokens", &other_admin).await;
        let id = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "bootstrap-admin")
            .map(|t| t["id"].as_i64().unwrap())
            .expect("bootstrap token listed");
        let (status, _) = send_json(
            "DELETE",
            &gw.url(&format!("/admin/tokens/{id}")),
            Some(&other_admin),
            &Value::Null,
        )
        .await;
        assert!(status.is_success());
        gw.stop();
        // Same settings, same bootstrap token: it starts, warns, and does not resurrect it.
        let env = gw.env.clone();
        let gw = Gateway::start_with_env(&backend, env, bootstrap.clone());
        assert!(
            gw.logs().contains("names a token an admin deleted"),
            "{}",
            gw.logs()
        );
        let (status, _) = gw.get("/v1/token/balance", &bootstrap).await;
        assert_eq!(status, 401);
        let (status, _) = gw.get("/v1/token/balance", &other_admin).await;
        assert_eq!(status, 200);
        backend.drop_database().await;
    }
}

/// Found by the OpenAPI fuzzer: a model name of multi-byte characters made the price
/// fallback slice inside a character, and the worker dropped the connection.
#[actix_web::test]
async fn multibyte_model_names_are_answered() {
    let backend = Backend::sqlite();
    let (_mock, gw) = gateway_with_mock(
        &backend,
        &[],
        serde_json::Value::Null,
        &["sk-utf8-key-000001"],
    )
    .await;
    for model in [
        "ࠀࠀࠀࠀ",
        "模型-2024-07-18",
        "é-2024-07-1é",
        "🤖🤖🤖🤖🤖🤖🤖🤖🤖🤖🤖🤖",
    ] {
        let (status, body) = gw
            .post("/v1/chat/completions", &gw.admin, &chat(model))
            .await;
        assert_eq!(status, 200, "{model}: {body}");
        let (status, body) = gw
            .post(
                "/v1/messages",
                &gw.admin,
                &serde_json::json!({"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}),
            )
            .await;
        assert_eq!(status, 200, "{model}: {body}");
    }
}
