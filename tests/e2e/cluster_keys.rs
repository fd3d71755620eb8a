//! Key health across instances after a blip: a key one instance's recovery probe found
//! serving again serves on every instance, not only after the shared cool-down ends.

use std::time::Duration;

use serde_json::json;

use crate::harness::*;

#[actix_web::test]
async fn a_recovered_key_serves_on_every_instance() {
    let Some(backend) = postgres().await else {
        return;
    };
    let sync_ms = 200u64;
    let mock = Mock::start();
    let a = Gateway::start(&backend, &[]);
    let b = Gateway::start(&backend, &[]);
    let key = "sk-cluster-blip-0001";
    a.add_provider("blip", &mock, json!(["m"]), &[key]).await;
    let token = a.token(&backend, &["--name", "app"]);
    serving(&[&a, &b], &token).await;
    // One 429 without Retry-After: A cools the key for routing.cooldown_secs (30 s) and
    // shares that; B adopts it.
    mock.fault(json!({"status": 429, "times": 1})).await;
    let (status, _) = a.post("/v1/chat/completions", &token, &chat("m")).await;
    assert_eq!(status, 502);
    actix_web::rt::time::sleep(Duration::from_millis(3 * sync_ms)).await;
    // The upstream is back: a probe through each instance finds it serving.
    for gw in [&a, &b] {
        let served = eventually(Duration::from_secs(3), || async {
            let (status, _) = gw.post("/v1/chat/completions", &token, &chat("m")).await;
            (status == 200).then_some(())
        })
        .await;
        assert!(served.is_some(), "a recovery probe is served");
    }
    // After the instances have traded what they learnt (a few sync intervals; longer when
    // the machine is loaded), every call is served at once — well before the 30 s
    // cool-down would have ended.
    let traded = eventually(Duration::from_secs(5), || async {
        let (sa, _) = a.post("/v1/chat/completions", &token, &chat("m")).await;
        let (sb, _) = b.post("/v1/chat/completions", &token, &chat("m")).await;
        (sa == 200 && sb == 200).then_some(())
    })
    .await;
    assert!(
        traded.is_some(),
        "both instances serve within 5 s of the recovery"
    );
    for i in 0..10 {
        let gw = if i % 2 == 0 { &a } else { &b };
        let (status, body) = gw.post("/v1/chat/completions", &token, &chat("m")).await;
        assert_eq!(status, 200, "call {i}: {body}");
    }
    backend.drop_database().await;
}
