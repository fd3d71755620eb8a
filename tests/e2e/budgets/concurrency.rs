//! Concurrency caps (contract section 3, "Budgets an organisation runs on"): a token's call
//! beyond `max_parallel` in flight is refused at once — 429 `concurrency_limit`,
//! `Retry-After: 1`, no upstream call — a stream holds its slot until it ends, and no
//! ending (a finished call, a cut stream, a client gone) leaks one.

use std::time::Duration;

use futures::future::join_all;
use serde_json::{json, Value};

use crate::harness::*;

const KEY: &str = "sk-parallel-0001";

/// A chat call the mock takes `delay_ms` to answer (streamed: in chunks that far apart).
fn slow(stream: bool, delay_ms: u64) -> Value {
    let mut body = chat("gpt-4o-mini");
    body["stream"] = json!(stream);
    body["mock"] = if stream {
        json!({"chunk_delay_ms": delay_ms})
    } else {
        json!({"first_delay_ms": delay_ms})
    };
    body
}

async fn send(gw: &Gateway, token: &str, body: &Value) -> (u16, Option<String>, Value) {
    let mut resp = client()
        .post(gw.url("/v1/chat/completions"))
        .insert_header(("authorization", format!("Bearer {token}")))
        .timeout(Duration::from_secs(60))
        .send_json(body)
        .await
        .unwrap();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = resp.body().limit(1 << 20).await.unwrap();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (resp.status().as_u16(), retry_after, value)
}

#[actix_web::test]
async fn calls_beyond_max_parallel_are_refused_at_once_and_slots_come_back() {
    let backend = Backend::sqlite();
    let mock = Mock::start();
    let gw = Gateway::start(&backend, &[]);
    gw.add_provider("open", &mock, Value::Null, &[KEY]).await;
    let (id, token) = token_with(&gw, json!({"max_parallel": 2})).await;
    let (_, view) = gw
        .admin_send("GET", &format!("/admin/tokens/{id}"), &Value::Null)
        .await;
    assert_eq!(view["max_parallel"], 2);

    // Five at once: two served, three refused before any upstream call.
    let body = slow(false, 1500);
    let answers = join_all((0..5).map(|_| send(&gw, &token, &body))).await;
    let served = answers.iter().filter(|a| a.0 == 200).count();
    let refused: Vec<_> = answers.iter().filter(|a| a.0 == 429).collect();
    assert_eq!((served, refused.len()), (2, 3), "{answers:?}");
    for (_, retry_after, body) in &refused {
        assert_eq!(retry_after.as_deref(), Some("1"));
        assert_eq!(body["error"]["code"], "concurrency_limit", "{body}");
        assert_eq!(body["error"]["type"], "rate_limit_error");
    }
    assert_eq!(
        mock.calls_for(KEY).await,
        2,
        "refused calls reached no upstream"
    );

    // The slots are back: two more at once are both served.
    let quick = slow(false, 0);
    let again = join_all((0..2).map(|_| send(&gw, &token, &quick))).await;
    assert!(again.iter().all(|a| a.0 == 200), "{again:?}");

    // A stream holds its slot until it ends.
    let streaming = {
        let gw = &gw;
        let token = token.clone();
        async move { send(gw, &token, &slow(true, 150)).await }
    };
    let during = async {
        actix_web::rt::time::sleep(Duration::from_millis(400)).await;
        let one = send(&gw, &token, &quick).await.0;
        // Holding one of the two slots for the length of this check.
        let slow_call = slow(false, 800);
        let held = send(&gw, &token, &slow_call);
        let probe = async {
            actix_web::rt::time::sleep(Duration::from_millis(300)).await;
            send(&gw, &token, &quick).await.0
        };
        let (held, probe) = futures::join!(held, probe);
        (one, held.0, probe)
    };
    let (stream, (one, held, probe)) = futures::join!(streaming, during);
    assert_eq!(stream.0, 200);
    assert_eq!((one, held), (200, 200));
    assert_eq!(probe, 429, "the stream and the slow call hold both slots");

    // Clients that hang up mid-stream give their slots back.
    let long = slow(true, 500);
    gw.abandon_stream(&token, &long).await;
    gw.abandon_stream(&token, &long).await;
    let back = eventually(Duration::from_secs(10), || async {
        let answers = join_all((0..2).map(|_| send(&gw, &token, &quick))).await;
        answers.iter().all(|a| a.0 == 200).then_some(())
    })
    .await;
    assert!(back.is_some(), "slots of abandoned streams came back");

    // No cap: five at once are all served.
    let (status, _) = gw
        .admin_send(
            "PATCH",
            &format!("/admin/tokens/{id}"),
            &json!({"max_parallel": null}),
        )
        .await;
    assert_eq!(status, 200);
    let body = slow(false, 300);
    let answers = join_all((0..5).map(|_| send(&gw, &token, &body))).await;
    assert!(answers.iter().all(|a| a.0 == 200), "{answers:?}");

    let (status, body) = gw
        .admin_send(
            "POST",
            "/admin/tokens",
            &json!({"name": "bad", "max_parallel": 0}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
}

#[actix_web::test]
async fn messages_clients_get_the_refusal_in_anthropic_shape_with_retry_after() {
    let backend = Backend::sqlite();
    let mock = Mock::start();
    let gw = Gateway::start(&backend, &[]);
    add_claude(&gw, &mock, "sk-ant-parallel-0001").await;
    let (_, token) = token_with(&gw, json!({"max_parallel": 1})).await;
    // The first call takes a second upstream (the Anthropic mock reads no `mock` field).
    mock.fault(json!({"key": "sk-ant-parallel-0001", "delay_ms": 1000, "times": 1}))
        .await;
    let call = || {
        let gw = &gw;
        let token = token.clone();
        async move {
            let mut resp = client()
                .post(gw.url("/v1/messages"))
                .insert_header(("x-api-key", token.as_str()))
                .insert_header(("anthropic-version", "2023-06-01"))
                .timeout(Duration::from_secs(30))
                .send_json(&json!({"model": "claude-sonnet-4", "max_tokens": 16,
                    "messages": [{"role": "user", "content": "hi"}]}))
                .await
                .unwrap();
            let retry = resp
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            (resp.status().as_u16(), retry, body)
        }
    };
    let slow_one = call();
    let refused = async {
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        call().await
    };
    let (first, second) = futures::join!(slow_one, refused);
    assert_eq!(first.0, 200, "{first:?}");
    assert_eq!(second.0, 429, "{second:?}");
    assert_eq!(second.1.as_deref(), Some("1"));
    assert_eq!(second.2["type"], "error");
    assert_eq!(second.2["error"]["type"], "rate_limit_error");
}

/// Two instances on one Postgres, `max_parallel` 2: four slow calls at once, two through
/// each instance, are two served and two refused — never three served — and once they end
/// (the lease tick shrinks each instance's hold) both instances serve again.
#[actix_web::test]
async fn max_parallel_holds_across_instances() {
    let Some(backend) = postgres().await else {
        return;
    };
    let mock = Mock::start();
    let a = Gateway::start(&backend, &[]);
    let b = Gateway::start(&backend, &[]);
    a.add_provider("shared", &mock, json!(["gpt-4o-mini"]), &[KEY])
        .await;
    let (_, token) = token_with(&a, json!({"max_parallel": 2})).await;
    serving(&[&a, &b], &token).await;
    for round in 0..3 {
        let body = slow(false, 1500);
        let calls = [&a, &a, &b, &b].map(|gw| send(gw, &token, &body));
        let answers = join_all(calls).await;
        let served = answers.iter().filter(|x| x.0 == 200).count();
        let refused = answers.iter().filter(|x| x.0 == 429).count();
        assert_eq!((served, refused), (2, 2), "round {round}: {answers:?}");
        for (status, retry_after, body) in &answers {
            if *status == 429 {
                assert_eq!(retry_after.as_deref(), Some("1"));
                assert_eq!(body["error"]["code"], "concurrency_limit");
            }
        }
        // The holds shrink on the lease tick (one sync interval, 200 ms here).
        let both = eventually(Duration::from_secs(10), || async {
            let quick = slow(false, 0);
            let (x, y) = futures::join!(send(&a, &token, &quick), send(&b, &token, &quick));
            (x.0 == 200 && y.0 == 200).then_some(())
        })
        .await;
        assert!(
            both.is_some(),
            "round {round}: slots came back on both instances"
        );
        actix_web::rt::time::sleep(Duration::from_millis(600)).await;
    }
    backend.drop_database().await;
}
