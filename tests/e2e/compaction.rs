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
        let (_mock, gw) = three_providers(&backend).await;
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
        backend.drop_database().await;
    }
}
