//! A chat call's spans: the GenAI conventions, the client's trace, the log row and the
//! console's link, a new trace without a `traceparent`, export headers and counters.

use std::time::Duration;

use serde_json::{json, Value};

use super::*;

#[actix_web::test]
async fn a_chat_calls_spans_follow_the_genai_conventions_and_the_clients_trace() {
    if !otlp_ready() {
        return;
    }
    for backend in Backend::all().await {
        let receiver = OtlpReceiver::start(&[]);
        let mock = Mock::start();
        let gw = traced(
            &backend,
            &receiver,
            &[
                ("GATEWAY__TELEMETRY__SERVICE_NAME", "gz-test"),
                (
                    "GATEWAY__TELEMETRY__HEADERS__AUTHORIZATION",
                    "Bearer otlp-secret",
                ),
                (
                    "GATEWAY__TELEMETRY__TRACE_URL_TEMPLATE",
                    "https://tempo.example/trace/{trace_id}?x=1",
                ),
            ],
        );
        gw.add_provider(
            "mock",
            &mock,
            json!(["gpt-4o-mini"]),
            &["sk-trace-key-0001"],
        )
        .await;
        let token = gw.token(&backend, &["--name", "traced-token"]);
        let traceparent = client_parent(CLIENT_TRACE);
        let body = json!({"model": "gpt-4o-mini", "max_tokens": 20,
                          "messages": [{"role": "user", "content": "a secret prompt"}]});
        let headers = [
            ("traceparent", traceparent.as_str()),
            ("tracestate", "rojo=1"),
        ];
        let (status, answer) = call(&gw, "/v1/chat/completions", &token, &headers, &body).await;
        assert_eq!(status, 200, "{answer}");

        let (server, attempts) = spans_of(&receiver, CLIENT_TRACE, 1).await;
        let attempt = &attempts[0];
        // The server span continues the client's trace; the attempt is its child.
        assert_eq!(server["parent_span_id"], CLIENT_SPAN);
        assert_eq!(attempt["parent_span_id"], server["span_id"]);
        assert_eq!(server["name"], "chat gpt-4o-mini");
        assert_eq!(attempt["name"], "chat gpt-4o-mini");
        assert_eq!(server["resource"]["service.name"], "gz-test");
        // The upstream's parent is the attempt's span, with the client's tracestate.
        let sent = mock.last_request().await["trace_headers"].clone();
        let upstream_parent = format!(
            "00-{CLIENT_TRACE}-{}-01",
            attempt["span_id"].as_str().unwrap()
        );
        assert_eq!(
            sent,
            json!([["traceparent", upstream_parent], ["tracestate", "rojo=1"]])
        );

        let db = backend.connect().await;
        let row = eventually(Duration::from_secs(3), || async {
            rows(&db).await.into_iter().next()
        })
        .await
        .expect("a log row");
        assert_eq!(row.trace_id.as_deref(), Some(CLIENT_TRACE));
        for span in [&server, attempt] {
            assert_eq!(attr(span, "gen_ai.operation.name"), "chat");
            assert_eq!(attr(span, "gen_ai.provider.name"), "openai");
            assert_eq!(attr(span, "gen_ai.request.model"), "gpt-4o-mini");
            assert_eq!(attr(span, "gen_ai.response.model"), "gpt-4o-mini");
            assert_eq!(attr(span, "gen_ai.response.id"), "chatcmpl-mock");
            assert_eq!(
                attr(span, "gen_ai.response.finish_reasons"),
                &json!(["stop"])
            );
            assert_eq!(attr(span, "gen_ai.usage.input_tokens"), row.prompt_tokens);
            assert_eq!(
                attr(span, "gen_ai.usage.output_tokens"),
                row.completion_tokens
            );
            assert!(row.completion_tokens > 0);
            // Content is never exported unless asked for.
            assert!(attr(span, "gen_ai.input.messages").is_null());
            assert!(!span.to_string().contains("a secret prompt"));
            assert!(!span.to_string().contains("sk-trace-key-0001"));
        }
        assert_eq!(attr(&server, "gen_ai.request.max_tokens"), 20);
        assert_eq!(attr(&server, "gateway.token.name"), "traced-token");
        assert_eq!(attr(&server, "gateway.token.id"), row.token_id.unwrap());
        assert_eq!(attr(&server, "gateway.request.id"), row.request_id.as_str());
        assert_eq!(attr(&server, "gateway.budget.outcome"), "admitted");
        assert_eq!(attr(&server, "gateway.endpoint"), "chat.completions");
        assert_eq!(attr(&server, "gateway.attempts"), 1);
        assert_eq!(attr(&server, "http.response.status_code"), 200);
        let cost = attr(&server, "gateway.cost.usd").as_f64().unwrap();
        assert!(
            (cost - row.amount_nano as f64 / 1e9).abs() < 1e-12,
            "{cost}"
        );
        let port: u16 = mock.base.rsplit(':').next().unwrap().parse().unwrap();
        assert_eq!(attr(attempt, "server.address"), "127.0.0.1");
        assert_eq!(attr(attempt, "server.port"), port);
        assert_eq!(attr(attempt, "http.response.status_code"), 200);
        assert_eq!(attr(attempt, "gateway.upstream_key.masked"), "sk-t****0001");
        assert_eq!(server["status"]["code"], 0);

        // The console's link from the log row to the trace.
        let (status, view) = gw
            .admin_send(
                "GET",
                &format!("/admin/logs/requests/{}", row.id),
                &Value::Null,
            )
            .await;
        assert_eq!(status, 200, "{view}");
        assert_eq!(
            view["trace_url"],
            format!("https://tempo.example/trace/{CLIENT_TRACE}?x=1")
        );

        // No traceparent: a new trace, its id on the row.
        let (status, _) = call(&gw, "/v1/chat/completions", &token, &[], &body).await;
        assert_eq!(status, 200);
        let newest = eventually(Duration::from_secs(3), || async {
            rows(&db)
                .await
                .into_iter()
                .find(|r| r.trace_id.as_deref() != Some(CLIENT_TRACE))
        })
        .await
        .expect("the second row");
        let new_trace = newest
            .trace_id
            .clone()
            .expect("a traced call's row keeps its trace id");
        let (root, _) = spans_of(&receiver, &new_trace, 1).await;
        assert_eq!(root["parent_span_id"], "");
        let sent = mock.last_request().await["trace_headers"].clone();
        assert!(
            sent[0][1]
                .as_str()
                .unwrap()
                .starts_with(&format!("00-{new_trace}-")),
            "{sent}"
        );

        // Every export carried the configured headers; the counters say what went.
        let exports = receiver.exports().await;
        assert!(!exports.is_empty());
        for export in &exports {
            assert_eq!(export["headers"]["authorization"], "Bearer otlp-secret");
            assert_eq!(export["headers"]["content-type"], "application/x-protobuf");
        }
        assert!(metric(&gw, "gateway_trace_spans_exported_total", &[]).await >= 4.0);
        assert_eq!(
            metric(&gw, "gateway_trace_spans_dropped_total", &[]).await,
            0.0
        );
        assert!(
            !gw.logs().contains("otlp-secret"),
            "the export header reached the log"
        );
        backend.drop_database().await;
    }
}
