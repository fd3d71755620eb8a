//! Prometheus series: names, labels and bounded label values.

use super::*;

fn call(provider: &str, model: &str, status: u16) -> LogEntry {
    LogEntry {
        endpoint: "chat.completions",
        provider: Some(provider.into()),
        model: Some(model.into()),
        status_code: status,
        latency_ms: 12,
        attempts: 1,
        prompt_tokens: 3,
        completion_tokens: 4,
        amount: crate::core::money::Money::from_nanos(50),
        ..LogEntry::default()
    }
}

fn line<'a>(text: &'a str, start: &str) -> Option<&'a str> {
    text.lines().find(|l| l.starts_with(start))
}

/// The per-thread handle cache keeps every label set apart, across threads too, and
/// labels names outside the known models as `other`.
#[test]
fn cached_series_count_per_label_set_and_across_threads() {
    install().unwrap();
    record_call(&call("telemetry-p", "m-known", 200), None, true);
    record_call(&call("telemetry-p", "m-known", 200), None, true);
    record_call(&call("telemetry-p", "m-known", 502), None, true);
    record_call(&call("telemetry-p", "client-chose-this", 200), None, false);
    std::thread::spawn(|| record_call(&call("telemetry-p", "m-known", 200), None, true))
        .join()
        .unwrap();
    record_upstream("telemetry-p", Duration::from_millis(3));
    record_http("/telemetry-test", "POST", 200, Duration::from_millis(1));
    record_http("/telemetry-test", "POST", 200, Duration::from_millis(1));
    record_http("/telemetry-test", "GET", 404, Duration::from_millis(1));
    record_http("/telemetry-test", "M0001X", 404, Duration::from_millis(1));
    record_http("/telemetry-test", "M0002X", 404, Duration::from_millis(1));
    upkeep();
    let text = render();
    let requests = |model: &str, status: &str| {
        line(&text, &format!(
            "gateway_requests_total{{endpoint=\"chat.completions\",provider=\"telemetry-p\",model=\"{model}\",status=\"{status}\"}}"
        ))
        .map(|l| l.rsplit(' ').next().unwrap().to_string())
    };
    assert_eq!(requests("m-known", "200").as_deref(), Some("3"), "{text}");
    assert_eq!(requests("m-known", "502").as_deref(), Some("1"));
    assert_eq!(requests("other", "200").as_deref(), Some("1"));
    assert_eq!(requests("client-chose-this", "200"), None);
    assert!(
        line(
            &text,
            "gateway_tokens_total{provider=\"telemetry-p\",model=\"m-known\",kind=\"prompt\"} 12"
        )
        .is_some(),
        "{text}"
    );
    assert!(line(
        &text,
        "gateway_upstream_attempts_total{provider=\"telemetry-p\"} 5"
    )
    .is_some());
    assert!(line(
        &text,
        "gateway_upstream_latency_seconds_count{provider=\"telemetry-p\"} 1"
    )
    .is_some());
    assert!(line(
        &text,
        "gateway_http_requests_total{route=\"/telemetry-test\",method=\"POST\",status=\"200\"} 2"
    )
    .is_some());
    assert!(line(
        &text,
        "gateway_http_requests_total{route=\"/telemetry-test\",method=\"GET\",status=\"404\"} 1"
    )
    .is_some());
    assert!(line(
        &text,
        "gateway_http_requests_total{route=\"/telemetry-test\",method=\"other\",status=\"404\"} 2"
    )
    .is_some());
    assert!(line(
        &text,
        "gateway_http_request_duration_seconds_count{route=\"/telemetry-test\"} 5"
    )
    .is_some());
}
