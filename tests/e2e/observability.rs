//! Observability from the outside: the Prometheus exposition and the API docs page.

use std::collections::HashSet;

use serde_json::json;

use crate::harness::*;

/// `/metrics` parses as Prometheus text and holds the gateway's series with sane values.
#[actix_web::test]
async fn prometheus_metrics_parse_and_count_calls() {
    let backend = Backend::sqlite();
    let (mock, gw) = gateway_with_mock(
        &backend,
        &[],
        json!(["gpt-4o-mini", "big"]),
        &["sk-prom-a-000001", "sk-prom-b-000002"],
    )
    .await;
    let token = gw.token(&backend, &["--name", "p"]);
    let poor = gw.token(&backend, &["--name", "poor", "--max-tokens", "3"]);
    for _ in 0..3 {
        assert_eq!(
            gw.post("/v1/chat/completions", &token, &chat("gpt-4o-mini"))
                .await
                .0,
            200
        );
    }
    // A failover: one key is rate limited once, the other answers.
    mock.fault(json!({"status": 429, "times": 1})).await;
    assert_eq!(
        gw.post("/v1/chat/completions", &token, &chat("gpt-4o-mini"))
            .await
            .0,
        200
    );
    assert_eq!(
        gw.post("/v1/chat/completions", "gz-nobody", &chat("gpt-4o-mini"))
            .await
            .0,
        401
    );
    assert_eq!(
        gw.post("/v1/chat/completions", &poor, &chat("big")).await.0,
        429
    );

    let (s, raw) = send_raw("GET", &gw.url("/metrics"), None, None, Vec::new()).await;
    assert_eq!(s, 200);
    let text = String::from_utf8(raw).unwrap();
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text format");
    let value = |name: &str, labels: &[(&str, &str)]| -> f64 {
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                prometheus_parse::Value::Histogram(ref h) => {
                    h.iter().map(|b| b.count).fold(0.0, f64::max)
                }
                _ => 0.0,
            })
            .sum()
    };
    let names: HashSet<&str> = scrape.samples.iter().map(|s| s.metric.as_str()).collect();
    assert!(names.iter().all(|n| n.starts_with("gateway_")), "{names:?}");
    assert_eq!(
        value(
            "gateway_requests_total",
            &[
                ("status", "200"),
                ("provider", "mock"),
                ("model", "gpt-4o-mini")
            ]
        ),
        4.0
    );
    assert_eq!(value("gateway_requests_total", &[("status", "429")]), 1.0);
    assert!(value("gateway_tokens_total", &[("kind", "completion")]) > 0.0);
    assert!(value("gateway_cost_nano_usd_total", &[]) > 0.0);
    assert_eq!(
        value("gateway_upstream_attempts_total", &[("provider", "mock")]),
        5.0
    );
    assert_eq!(value("gateway_failovers_total", &[]), 1.0);
    assert_eq!(
        value("gateway_key_cooldowns_total", &[("reason", "rate_limited")]),
        1.0
    );
    assert_eq!(
        value(
            "gateway_budget_refusals_total",
            &[("reason", "insufficient_quota")]
        ),
        1.0
    );
    assert!(value("gateway_unauthenticated_requests_total", &[]) >= 1.0);
    assert_eq!(value("gateway_database_errors_total", &[]), 0.0);
    assert!(names.contains("gateway_log_queue_depth"));
    assert_eq!(
        value(
            "gateway_http_requests_total",
            &[("route", "/v1/chat/completions"), ("status", "200")]
        ),
        4.0
    );
    for histogram in [
        "gateway_added_latency_seconds",
        "gateway_upstream_latency_seconds",
        "gateway_time_to_first_token_seconds",
        "gateway_request_duration_seconds",
        "gateway_http_request_duration_seconds",
    ] {
        assert!(
            value(histogram, &[]) >= 1.0,
            "{histogram} has no observations"
        );
    }
}

/// The docs page is served from the binary: Swagger UI's files are local, no CDN.
#[actix_web::test]
async fn docs_page_is_served_without_a_cdn() {
    let backend = Backend::sqlite();
    let gw = Gateway::start(&backend, &[]);
    let (s, page) = send_raw("GET", &gw.url("/docs/"), None, None, Vec::new()).await;
    assert_eq!(s, 200);
    let page = String::from_utf8(page).unwrap();
    assert!(page.contains("swagger-ui"), "{page}");
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "external assets: {page}"
    );
    for asset in [
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "swagger-initializer.js",
        "openapi.json",
    ] {
        let (s, body) = send_raw(
            "GET",
            &gw.url(&format!("/docs/{asset}")),
            None,
            None,
            Vec::new(),
        )
        .await;
        assert_eq!(s, 200, "{asset}");
        assert!(!body.is_empty(), "{asset}");
    }
    let (s, _) = send_raw("GET", &gw.url("/docs"), None, None, Vec::new()).await;
    assert!(s.is_redirection() || s == 200, "{s}");
}
