//! Which calls are traced (ratio, the client's flag, bounds) and what a dead or slow
//! collector costs a call: nothing but dropped, counted spans.

use std::time::{Duration, Instant};

use serde_json::json;

use super::*;

#[actix_web::test]
async fn sampling_follows_the_ratio_and_the_clients_flag() {
    if !otlp_ready() {
        return;
    }
    let backend = Backend::sqlite();
    let receiver = OtlpReceiver::start(&[]);
    let mock = Mock::start();
    let gw = traced(
        &backend,
        &receiver,
        &[("GATEWAY__TELEMETRY__SAMPLE_RATIO", "0")],
    );
    gw.add_provider("mock", &mock, json!(["gpt-4o-mini"]), &["sk-sample-key-01"])
        .await;
    let token = gw.token(&backend, &["--name", "sampled"]);
    // Ratio 0: a new trace is not recorded, and nothing but the client's own context goes on.
    let (status, _) = call(
        &gw,
        "/v1/chat/completions",
        &token,
        &[],
        &chat("gpt-4o-mini"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(mock.last_request().await["trace_headers"], json!([]));
    // The client's unsampled trace is not recorded either; its context goes on as it came.
    let unsampled = format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-00");
    let (status, _) = call(
        &gw,
        "/v1/chat/completions",
        &token,
        &[("traceparent", unsampled.as_str())],
        &chat("gpt-4o-mini"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        mock.last_request().await["trace_headers"],
        json!([["traceparent", unsampled]])
    );
    // A sampled one is, whatever the ratio.
    let sampled_trace = "11111111111111111111111111111111";
    let (status, _) = call_in_trace(
        &gw,
        "/v1/chat/completions",
        &token,
        sampled_trace,
        &chat("gpt-4o-mini"),
    )
    .await;
    assert_eq!(status, 200);
    let spans = receiver.trace(sampled_trace, 2).await;
    assert_eq!(spans.len(), 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        receiver.spans().await.len(),
        2,
        "only the sampled call's spans"
    );
    let db = backend.connect().await;
    let all = eventually(Duration::from_secs(3), || async {
        let r = rows(&db).await;
        (r.len() >= 3).then_some(r)
    })
    .await
    .expect("3 log rows");
    let ids: Vec<Option<String>> = all.into_iter().map(|r| r.trace_id).collect();
    assert_eq!(
        ids,
        [None, Some(CLIENT_TRACE.into()), Some(sampled_trace.into())]
    );
    // The longest model name a client may send (256 bytes; longer is refused at parse)
    // names the span cut to 128 bytes.
    let longest = "m".repeat(256);
    let long_trace = "22222222222222222222222222222222";
    let (status, _) = call_in_trace(
        &gw,
        "/v1/chat/completions",
        &token,
        long_trace,
        &chat(&longest),
    )
    .await;
    assert_eq!(status, 404);
    let (server, _) = spans_of(&receiver, long_trace, 0).await;
    assert_eq!(attr(&server, "gen_ai.request.model"), longest.as_str());
    let name = server["name"].as_str().unwrap();
    assert!(
        name.len() <= "chat ".len() + 128 + 3 && name.starts_with("chat mmm"),
        "{name}"
    );
    backend.drop_database().await;
}

#[actix_web::test]
async fn a_dead_or_slow_exporter_never_delays_a_call_and_drops_are_counted() {
    if !otlp_ready() {
        return;
    }
    let backend = Backend::sqlite();
    let mock = Mock::start();
    // Nothing listens on the dead port.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dead_url = format!("http://127.0.0.1:{dead}/v1/traces");
    let slow = OtlpReceiver::start(&["--delay", "30"]);
    let slow_url = slow.endpoint();
    for (what, url) in [("dead", dead_url.as_str()), ("slow", slow_url.as_str())] {
        let gw = Gateway::start(
            &backend,
            &[
                ("GATEWAY__TELEMETRY__OTLP_ENDPOINT", url),
                ("GATEWAY__TELEMETRY__EXPORT_INTERVAL_MS", "20"),
                ("GATEWAY__TELEMETRY__EXPORT_BATCH_SPANS", "2"),
                ("GATEWAY__TELEMETRY__MAX_QUEUE_SPANS", "4"),
                ("GATEWAY__TELEMETRY__EXPORT_TIMEOUT_MS", "60000"),
            ],
        );
        if what == "dead" {
            gw.add_provider("mock", &mock, json!(["gpt-4o-mini"]), &["sk-dead-key-0001"])
                .await;
        }
        let token = gw.token(&backend, &["--name", what]);
        let started = Instant::now();
        let mut slowest = Duration::ZERO;
        for _ in 0..40 {
            let one = Instant::now();
            let (status, body) = call(
                &gw,
                "/v1/chat/completions",
                &token,
                &[],
                &chat("gpt-4o-mini"),
            )
            .await;
            assert_eq!(status, 200, "{what}: {body}");
            slowest = slowest.max(one.elapsed());
        }
        // No call waits on the exporter (a 30 s export would show here).
        assert!(
            slowest < Duration::from_secs(5),
            "{what}: a call took {slowest:?}"
        );
        let spans = 80.0;
        let dropped = eventually(Duration::from_secs(5), || async {
            let d = metric(&gw, "gateway_trace_spans_dropped_total", &[]).await;
            (d > 0.0).then_some(d)
        })
        .await
        .unwrap_or_else(|| panic!("{what}: no span counted as dropped"));
        let exported = metric(&gw, "gateway_trace_spans_exported_total", &[]).await;
        assert_eq!(exported, 0.0, "{what}");
        if what == "dead" {
            // The exporter retries a refused connection with backoff before it gives up.
            let failed = eventually(Duration::from_secs(20), || async {
                let f = metric(&gw, "gateway_trace_exports_failed_total", &[]).await;
                (f >= 1.0).then_some(f)
            })
            .await;
            assert!(failed.is_some(), "{what}: no failed export counted");
            assert!(
                metric(
                    &gw,
                    "gateway_trace_spans_dropped_total",
                    &[("reason", "export_failed")]
                )
                .await
                    >= 1.0
            );
        } else {
            // The export in flight holds two; the queue four; the rest are dropped as they end.
            let full = metric(
                &gw,
                "gateway_trace_spans_dropped_total",
                &[("reason", "queue_full")],
            )
            .await;
            assert!(
                full >= spans - 2.0 - 4.0 - 2.0,
                "{what}: {full} dropped of {spans}"
            );
        }
        assert!(dropped <= spans);
        eprintln!(
            "{what} exporter: 40 calls in {:?}, slowest {slowest:?}, {dropped} spans dropped",
            started.elapsed()
        );
    }
    backend.drop_database().await;
}
