//! `POST /v1/responses/compact` (Codex's remote compaction) on every provider type: a
//! Chat-type, an Anthropic and a native-Responses provider each summarise a tool-using
//! history; the answer is `{"output": [...]}` items that continue the conversation, and
//! the call is billed and logged as `responses.compact` on SQLite and Postgres.

use serde_json::{json, Value};

use crate::harness::*;

fn history() -> Value {
    json!([
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "write hello.txt"}]},
        {"type": "function_call", "name": "shell", "call_id": "call_1",
         "arguments": "{\"command\":[\"bash\",\"-lc\",\"echo hi > hello.txt\"]}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "{\"output\":\"\",\"metadata\":{\"exit_code\":0}}"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Done."}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "now check it"}]}
    ])
}

#[actix_web::test]
async fn compaction_answers_on_every_provider_type_and_is_billed() {
    for backend in Backend::all().await {
        let (mock, gw) = three_providers(&backend).await;
        let (token_id, token) = token_with(&gw, json!({"max_tokens": 1_000_000})).await;
        for model in ["gpt-4o-mini", "claude-sonnet-4-5", "native-4o"] {
            let body = json!({"model": model, "input": history(),
                              "instructions": "You are a coding agent."});
            let (status, out) = gw.post("/v1/responses/compact", &token, &body).await;
            assert_eq!(status, 200, "{model}: {out}");
            let items = out["output"].as_array().unwrap();
            let texts: Vec<&str> = items
                .iter()
                .map(|i| i["content"][0]["text"].as_str().unwrap())
                .collect();
            assert_eq!(
                texts[..2],
                ["write hello.txt", "now check it"],
                "{model}: {out}"
            );
            let summary = texts.last().unwrap();
            assert!(
                summary.starts_with("Summary of the conversation so far")
                    && summary.contains("tok"),
                "{model}: {summary}"
            );
            assert!(items
                .iter()
                .all(|i| i["role"] == "user" && i["type"] == "message"));
        }
        // Refused as any call would be: a model nobody serves, a body without a model.
        let (status, e) = gw
            .post(
                "/v1/responses/compact",
                &token,
                &json!({"model": "nobody", "input": []}),
            )
            .await;
        assert_eq!(status, 404, "{e}");
        let (status, e) = gw
            .post("/v1/responses/compact", &token, &json!({"input": []}))
            .await;
        assert_error(status, &e, 400, "invalid_request_error", None);
        // Billed and logged as responses.compact.
        let db = backend.connect().await;
        let rows = rows_of(&db, token_id, 4).await;
        let compactions: Vec<_> = rows
            .iter()
            .filter(|r| r.endpoint == "responses.compact")
            .collect();
        assert_eq!(compactions.len(), 4, "three served, one refused");
        assert!(compactions
            .iter()
            .filter(|r| r.status == "success")
            .all(|r| r.total_tokens > 0));
        let (_, usage) = gw.get("/v1/token/usage", &token).await;
        assert!(usage["total_tokens"].as_i64().unwrap() > 0, "{usage}");
        // A token without a budget on a native Responses provider: the upstream compacts
        // the client's own body and its encrypted item comes back as it is, billed.
        let (free_id, free) = token_with(&gw, json!({})).await;
        let body = json!({"model": "native-4o", "input": history(),
                          "instructions": "You are a coding agent."});
        let (status, out) = gw.post("/v1/responses/compact", &free, &body).await;
        assert_eq!(status, 200, "{out}");
        assert_eq!(out["object"], "response.compaction", "{out}");
        let last = out["output"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["type"], "compaction", "{out}");
        assert_eq!(last["encrypted_content"], "mock-encrypted-summary");
        let sent = mock.last_request().await;
        assert_eq!(sent["path"], "/v1/responses/compact");
        assert_eq!(sent["body"]["input"], history(), "the client's own body");
        assert_eq!(sent["body"]["instructions"], "You are a coding agent.");
        let row = rows_of(&db, free_id, 1).await.remove(0);
        assert_eq!(
            (
                row.endpoint.as_str(),
                row.completion_tokens,
                row.usage_estimated
            ),
            ("responses.compact", 7, false),
            "{row:?}"
        );
        // The same token on a Chat-type provider: summarised.
        let body = json!({"model": "gpt-4o-mini", "input": history()});
        let (status, out) = gw.post("/v1/responses/compact", &free, &body).await;
        assert_eq!(status, 200, "{out}");
        assert!(out["output"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["type"] == "message"));
        backend.drop_database().await;
    }
}
