//! W3C trace context: a client's valid `traceparent` (and its `tracestate`) goes on to the
//! upstream as it came and its trace id onto the call's log row, whatever the dialects on
//! either side; a malformed one is dropped, never repaired.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;

const TRACE_A: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACE_B: &str = "0af7651916cd43dd8448eb211c80319c";

async fn chat_with(gw: &Gateway, token: &str, headers: &[(&str, &str)]) -> u16 {
    let mut req = client()
        .post(gw.url("/v1/chat/completions"))
        .insert_header(("authorization", format!("Bearer {token}")));
    for (name, value) in headers {
        req = req.insert_header((*name, *value));
    }
    let mut resp = req.send_json(&chat("gpt-4o-mini")).await.unwrap();
    let _ = resp.body().await;
    resp.status().as_u16()
}

#[actix_web::test]
async fn a_clients_trace_context_goes_upstream_and_onto_the_log_row() {
    for backend in Backend::all().await {
        let mock = Mock::start();
        let gw = Gateway::start(&backend, &[]);
        gw.add_provider("mock", &mock, json!(["gpt-4o-mini"]), &["sk-trace-0001"])
            .await;
        let token = gw.token(&backend, &["--name", "traced"]);
        let sent_trace = || async { mock.last_request().await["trace_headers"].clone() };

        // Chat → OpenAI-type upstream, with a vendor's tracestate.
        let traceparent = format!("00-{TRACE_A}-00f067aa0ba902b7-01");
        let headers = [
            ("traceparent", traceparent.as_str()),
            ("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
        ];
        assert_eq!(chat_with(&gw, &token, &headers).await, 200);
        assert_eq!(
            sent_trace().await,
            json!([
                ["traceparent", traceparent],
                ["tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"]
            ])
        );

        // Messages → the same upstream, translated: the context goes on all the same.
        let traceparent_b = format!("00-{TRACE_B}-b7ad6b7169203331-00");
        let mut resp = client()
            .post(gw.url("/v1/messages"))
            .insert_header(("x-api-key", token.as_str()))
            .insert_header(("anthropic-version", "2023-06-01"))
            .insert_header(("traceparent", traceparent_b.as_str()))
            .send_json(&json!({"model": "gpt-4o-mini", "max_tokens": 16,
                               "messages": [{"role": "user", "content": "hi"}]}))
            .await
            .unwrap();
        let _ = resp.body().await;
        assert_eq!(resp.status().as_u16(), 200);
        assert_eq!(sent_trace().await, json!([["traceparent", traceparent_b]]));

        // Malformed (uppercase hex; an all-zero trace id) or absent: nothing goes on.
        let upper = format!("00-{}-00f067aa0ba902b7-01", TRACE_A.to_uppercase());
        let zero = "00-00000000000000000000000000000000-00f067aa0ba902b7-01";
        for headers in [
            vec![("traceparent", upper.as_str()), ("tracestate", "rojo=1")],
            vec![("traceparent", zero)],
            vec![],
        ] {
            assert_eq!(chat_with(&gw, &token, &headers).await, 200);
            assert_eq!(sent_trace().await, json!([]), "{headers:?}");
        }

        // The log rows keep the trace ids, and the admin API shows them.
        let db = backend.connect().await;
        let rows = eventually(Duration::from_secs(2), || async {
            let rows = rows(&db).await;
            (rows.len() >= 5).then_some(rows)
        })
        .await
        .expect("5 log rows");
        let ids: Vec<Option<&str>> = rows.iter().map(|r| r.trace_id.as_deref()).collect();
        assert_eq!(ids, [Some(TRACE_A), Some(TRACE_B), None, None, None]);
        let (status, page) = gw
            .admin_send("GET", "/admin/logs/requests?limit=5", &Value::Null)
            .await;
        assert_eq!(status.as_u16(), 200, "{page}");
        let shown: Vec<Value> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["trace_id"].clone())
            .collect();
        // Newest first.
        assert_eq!(
            shown,
            [
                Value::Null,
                Value::Null,
                Value::Null,
                json!(TRACE_B),
                json!(TRACE_A)
            ]
        );
        backend.drop_database().await;
    }
}
