//! Claude behind the OpenAI API: an OpenAI-speaking client calls an `anthropic` provider
//! and gets OpenAI-shaped answers, whole and streamed.

use std::time::Duration;

use entity::request_log;
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::{json, Value};

use crate::harness::*;

const KEY: &str = "sk-ant-api03-mock-key-0001";

async fn claude_gateway(backend: &Backend) -> (Mock, Gateway) {
    let mock = Mock::start();
    let gw = Gateway::start(backend, &[]);
    gw.add_typed_provider(
        "claude",
        "Anthropic",
        &mock.v1(),
        json!(["claude-*"]),
        &[KEY],
    )
    .await;
    (mock, gw)
}

fn weather_tools() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"},
            "unit": {"type": "string"}}, "required": ["city"]}}}])
}

#[actix_web::test]
async fn openai_clients_call_claude() {
    let backend = Backend::sqlite();
    let (mock, gw) = claude_gateway(&backend).await;

    // Plain chat with a system prompt.
    let body = json!({"model": "claude/claude-sonnet-4-5", "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hello"}]});
    let (status, answer) = gw.post("/v1/chat/completions", &gw.admin, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "tok0 tok1 tok2 tok3 tok4 tok5 tok6 tok7 "
    );
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert!(answer["usage"]["prompt_tokens"].as_i64().unwrap() > 0);
    assert_eq!(answer["usage"]["completion_tokens"], 8);
    let sent = mock.last_request().await;
    assert_eq!(sent["path"], "/v1/messages");
    assert_eq!(sent["key"], KEY, "x-api-key carries the key");
    assert_eq!(
        sent["body"]["system"],
        json!([{"type": "text", "text": "You are terse."}])
    );
    assert_eq!(sent["body"]["model"], "claude-sonnet-4-5");
    assert_eq!(
        sent["body"]["max_tokens"], 64000,
        "no cap: the model's maximum output from the price book"
    );

    // A tool call, then its result, then the final answer.
    let ask = json!({"model": "claude-sonnet-4-5", "tools": weather_tools(),
        "messages": [{"role": "user", "content": "Weather in Paris?"}]});
    let (status, answer) = gw.post("/v1/chat/completions", &gw.admin, &ask).await;
    assert_eq!(status, 200, "{answer}");
    let choice = &answer["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"city": "Paris", "unit": "celsius"}));
    let follow = json!({"model": "claude-sonnet-4-5", "tools": weather_tools(), "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": null, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "18 C, sunny"}]});
    let (status, answer) = gw.post("/v1/chat/completions", &gw.admin, &follow).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert!(answer["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .starts_with("tok0"));
    let sent = mock.last_request().await["body"].clone();
    assert_eq!(sent["messages"][1]["content"][0]["type"], "tool_use");
    assert_eq!(
        sent["messages"][2]["content"][0],
        json!({"type": "tool_result", "tool_use_id": "toolu_mock_1", "content": "18 C, sunny"})
    );

    // Image input.
    let image = json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}]});
    let (status, _) = gw.post("/v1/chat/completions", &gw.admin, &image).await;
    assert_eq!(status, 200);
    let sent = mock.last_request().await["body"].clone();
    assert_eq!(
        sent["messages"][0]["content"][1],
        json!({"type": "image", "source": {"type": "base64", "media_type": "image/png",
            "data": "iVBORw0KGgo="}})
    );

    // Embeddings are not offered by Anthropic providers: skipped before any call.
    let (status, body) = gw
        .post(
            "/v1/embeddings",
            &gw.admin,
            &json!({"model": "claude-sonnet-4-5", "input": "x"}),
        )
        .await;
    assert_error(status, &body, 404, "not_found_error", None);
}

#[actix_web::test]
async fn streamed_claude_answers_arrive_as_openai_chunks() {
    for backend in Backend::all().await {
        let (_mock, gw) = claude_gateway(&backend).await;
        let body = json!({"model": "claude-sonnet-4-5", "stream": true,
            "stream_options": {"include_usage": true}, "tools": weather_tools(),
            "messages": [{"role": "user", "content": "Weather in Paris?"}]});
        let (status, text) = gw.chat_text(&gw.admin, &body).await;
        assert_eq!(status, 200);
        let events = sse_data(&text);
        assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{text}");
        let chunks: Vec<Value> = events[..events.len() - 1]
            .iter()
            .map(|e| serde_json::from_str(e).unwrap())
            .collect();
        // Reassemble the tool call the way the OpenAI SDK does: by index.
        let mut name = String::new();
        let mut args = String::new();
        for c in &chunks {
            for call in c["choices"][0]["delta"]["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
            {
                assert_eq!(call["index"], 0);
                name.push_str(call["function"]["name"].as_str().unwrap_or(""));
                args.push_str(call["function"]["arguments"].as_str().unwrap_or(""));
            }
        }
        assert_eq!(name, "get_weather");
        assert_eq!(
            serde_json::from_str::<Value>(&args).unwrap(),
            json!({"city": "Paris", "unit": "celsius"})
        );
        let finish: Vec<&Value> = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["finish_reason"].as_str().map(|_| c))
            .collect();
        assert_eq!(finish[0]["choices"][0]["finish_reason"], "tool_calls");
        let usage = &chunks.last().unwrap()["usage"];
        assert_eq!(usage["completion_tokens"], 12, "{usage}");

        // Plain text streamed, without a usage chunk; billed from the upstream's usage.
        let body = json!({"model": "claude-haiku-4-5", "stream": true,
            "messages": [{"role": "user", "content": "Hi"}]});
        let (status, text) = gw.chat_text(&gw.admin, &body).await;
        assert_eq!(status, 200);
        assert!(!text.contains("\"usage\""), "{text}");
        assert_eq!(
            streamed_content(&text),
            "tok0 tok1 tok2 tok3 tok4 tok5 tok6 tok7 "
        );

        let db = backend.connect().await;
        let rows = eventually(Duration::from_secs(5), || async {
            let rows = request_log::Entity::find()
                .order_by_asc(request_log::Column::Id)
                .all(&db)
                .await
                .unwrap_or_default();
            (rows.len() >= 2).then_some(rows)
        })
        .await
        .expect("two log rows");
        for row in &rows {
            assert_eq!(
                (row.status_code, row.usage_estimated),
                (200, false),
                "{row:?}"
            );
            assert_eq!(row.provider.as_deref(), Some("claude"));
            assert!(row.amount_nano > 0, "priced as Claude: {row:?}");
        }
        assert_eq!(rows[1].completion_tokens, 8);
        backend.drop_database().await;
    }
}

#[actix_web::test]
async fn translated_streams_are_relayed_as_events_arrive() {
    use futures::StreamExt;
    let backend = Backend::sqlite();
    let (mock, gw) = claude_gateway(&backend).await;
    // 14 events, 100 ms apart: the whole answer takes about 1.4 s upstream.
    mock.fault(json!({"chunk_delay_ms": 100})).await;
    let started = std::time::Instant::now();
    let mut resp = client()
        .post(gw.url("/v1/chat/completions"))
        .insert_header(("authorization", format!("Bearer {}", gw.admin)))
        .send_json(&json!({"model": "claude-sonnet-4-5", "stream": true,
            "messages": [{"role": "user", "content": "Hi"}]}))
        .await
        .unwrap();
    let first = resp.next().await.unwrap().unwrap();
    let first_at = started.elapsed();
    assert!(String::from_utf8_lossy(&first).contains("\"role\":\"assistant\""));
    let mut rest = Vec::new();
    while let Some(chunk) = resp.next().await {
        rest.extend_from_slice(&chunk.unwrap());
    }
    let total = started.elapsed();
    assert!(String::from_utf8_lossy(&rest).ends_with("data: [DONE]\n\n"));
    println!("first event after {first_at:?}, whole answer after {total:?}");
    assert!(
        first_at * 3 < total,
        "the first event ({first_at:?}) came long before the end ({total:?})"
    );
}

/// Sends an Anthropic-style request the way Anthropic clients do: `x-api-key`,
/// `anthropic-version`, a beta header and a query string.
async fn anthropic_call(gw: &Gateway, key: &str, body: &Value) -> (u16, String) {
    let mut resp = client()
        .post(gw.url("/v1/messages?beta=true"))
        .insert_header(("x-api-key", key))
        .insert_header(("anthropic-version", "2023-06-01"))
        .insert_header(("anthropic-beta", "prompt-caching-2024-07-31"))
        .send_json(body)
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.body().limit(1 << 20).await.unwrap();
    (status, String::from_utf8_lossy(&bytes).to_string())
}

#[actix_web::test]
async fn anthropic_clients_reach_every_provider_type() {
    for backend in Backend::all().await {
        let (mock, gw) = claude_gateway(&backend).await;
        gw.add_provider("oai", &mock, json!(["gpt-4o-mini"]), &["sk-oai-key-00001"])
            .await;
        let (id, token) = {
            let (status, created) = gw
                .admin_send(
                    "POST",
                    "/admin/tokens",
                    &json!({"name": "ant", "max_tokens": 100000}),
                )
                .await;
            assert_eq!(status, 201);
            (
                created["id"].as_i64().unwrap(),
                created["token"].as_str().unwrap().to_string(),
            )
        };
        for model in ["claude-sonnet-4-5", "gpt-4o-mini"] {
            let body = json!({"model": model, "max_tokens": 50,
                "messages": [{"role": "user", "content": "Hello"}]});
            let (status, text) = anthropic_call(&gw, &token, &body).await;
            assert_eq!(status, 200, "{model}: {text}");
            let message: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(message["type"], "message", "{text}");
            assert_eq!(
                message["content"][0]["text"],
                "tok0 tok1 tok2 tok3 tok4 tok5 tok6 tok7 "
            );
            assert_eq!(message["usage"]["output_tokens"], 8);
            let sent = mock.last_request().await;
            if model.starts_with("claude") {
                assert_eq!(sent["path"], "/v1/messages");
                let beta = json!(["anthropic-beta", "prompt-caching-2024-07-31"]);
                assert!(
                    sent["anthropic_headers"]
                        .as_array()
                        .unwrap()
                        .contains(&beta),
                    "{sent}"
                );
                assert_eq!(sent["body"], body, "Anthropic to Anthropic passes through");
            } else {
                assert_eq!(sent["path"], "/v1/chat/completions");
                assert_eq!(sent["body"]["max_completion_tokens"], 50);
            }
            // Streaming: Anthropic's event sequence from either type.
            let mut streamed = body.clone();
            streamed["stream"] = json!(true);
            let (status, text) = anthropic_call(&gw, &token, &streamed).await;
            assert_eq!(status, 200);
            let names: Vec<&str> = text
                .lines()
                .filter_map(|l| l.strip_prefix("event: "))
                .filter(|n| *n != "ping")
                .collect();
            assert_eq!(names.first(), Some(&"message_start"), "{text}");
            assert_eq!(
                &names[names.len() - 2..],
                &["message_delta", "message_stop"]
            );
        }
        // Errors in Anthropic's shape, whoever answers.
        let (status, text) = anthropic_call(
            &gw,
            &token,
            &json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
        assert_eq!(status, 400);
        let err: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(err["type"], "error");
        assert_eq!(err["error"]["type"], "invalid_request_error", "{text}");
        let (status, text) = anthropic_call(&gw, "gz-wrong", &json!({})).await;
        assert_eq!(status, 401);
        assert!(text.contains("authentication_error"), "{text}");

        // Usage is billed and logged like chat.
        let db = backend.connect().await;
        let rows = eventually(Duration::from_secs(5), || async {
            let rows: Vec<request_log::Model> = request_log::Entity::find()
                .all(&db)
                .await
                .unwrap_or_default()
                .into_iter()
                .filter(|r| r.token_id == Some(id as i32))
                .collect();
            (rows.len() >= 5).then_some(rows)
        })
        .await
        .expect("five log rows");
        let ok: Vec<_> = rows.iter().filter(|r| r.status_code == 200).collect();
        assert_eq!(ok.len(), 4, "{rows:?}");
        for row in ok {
            assert_eq!(row.endpoint, "messages");
            assert_eq!(
                (row.completion_tokens, row.usage_estimated),
                (8, false),
                "{row:?}"
            );
        }
        backend.drop_database().await;
    }
}

#[actix_web::test]
async fn anthropic_clients_have_hard_budgets_too() {
    let backend = Backend::sqlite();
    let (mock, gw) = claude_gateway(&backend).await;
    let (status, created) = gw
        .admin_send(
            "POST",
            "/admin/tokens",
            &json!({"name": "small", "max_tokens": 300}),
        )
        .await;
    assert_eq!(status, 201);
    let token = created["token"].as_str().unwrap().to_string();
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 4000,
        "messages": [{"role": "user", "content": "Hello"}]});
    let (status, text) = anthropic_call(&gw, &token, &body).await;
    assert_eq!(status, 200, "{text}");
    let cap = mock.last_request().await["body"]["max_tokens"]
        .as_i64()
        .unwrap();
    assert!(
        cap < 300,
        "the budget's allowance replaced the client's 4000: {cap}"
    );
    loop {
        let (status, text) = anthropic_call(&gw, &token, &body).await;
        if status == 429 {
            assert!(text.contains("\"type\":\"error\""), "{text}");
            break;
        }
        assert_eq!(status, 200, "{text}");
    }
    let (_, balance) = gw.get("/v1/token/balance", &token).await;
    assert!(
        balance["usage"]["total_tokens"].as_i64().unwrap() <= 300,
        "{balance}"
    );
}

#[actix_web::test]
async fn deepseek_reasoning_reaches_both_dialects_and_is_counted() {
    let backend = Backend::sqlite();
    let mock = Mock::start();
    let gw = Gateway::start(&backend, &[]);
    gw.add_typed_provider(
        "ds",
        "deepseek",
        &mock.v1(),
        json!(["deepseek-*"]),
        &["sk-ds-key-000001"],
    )
    .await;
    let ask = json!({"model": "deepseek-reasoner",
        "messages": [{"role": "user", "content": "Why?"}]});

    // OpenAI clients: reasoning_content, whole and streamed.
    let (status, answer) = gw.post("/v1/chat/completions", &gw.admin, &ask).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["choices"][0]["message"]["reasoning_content"],
        "Thinking it over."
    );
    let mut streamed = ask.clone();
    streamed["stream"] = json!(true);
    let (_, text) = gw.chat_text(&gw.admin, &streamed).await;
    assert!(
        text.contains("\"reasoning_content\":\"Thinking it over.\""),
        "{text}"
    );

    // Anthropic clients: thinking blocks, whole and streamed.
    let mut messages = ask.clone();
    messages["max_tokens"] = json!(100);
    let (status, text) = anthropic_call(&gw, &gw.admin, &messages).await;
    assert_eq!(status, 200, "{text}");
    let message: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(message["content"][0]["type"], "thinking", "{message}");
    assert_eq!(message["content"][0]["thinking"], "Thinking it over.");
    assert_eq!(message["content"][1]["type"], "text");
    assert_eq!(message["usage"]["cache_read_input_tokens"], 2);
    messages["stream"] = json!(true);
    let (_, text) = anthropic_call(&gw, &gw.admin, &messages).await;
    let first_block: Value = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .find(|e| e["type"] == "content_block_start")
        .expect("a content block");
    assert_eq!(first_block["content_block"]["type"], "thinking", "{text}");
    assert!(text.contains("\"type\":\"thinking_delta\""), "{text}");

    // Reasoning tokens and cache hits are counted.
    let db = backend.connect().await;
    let rows = eventually(Duration::from_secs(5), || async {
        let rows = request_log::Entity::find()
            .all(&db)
            .await
            .unwrap_or_default();
        (rows.len() >= 4).then_some(rows)
    })
    .await
    .expect("four log rows");
    for row in &rows {
        assert_eq!((row.reasoning_tokens, row.cached_tokens), (4, 2), "{row:?}");
    }
}

#[actix_web::test]
async fn zhipu_gets_parameters_it_accepts_from_either_dialect() {
    let backend = Backend::sqlite();
    let mock = Mock::start();
    let gw = Gateway::start(&backend, &[]);
    gw.add_typed_provider(
        "glm",
        "zhipu",
        &format!("{}/api/paas/v4", mock.base),
        json!(["glm-*"]),
        &["zhipu-key-0001.secret"],
    )
    .await;
    // What OpenAI clients send freely: greedy decoding, top_p 1.
    let mut ask = chat("glm-4.6");
    ask["temperature"] = json!(0);
    ask["top_p"] = json!(1.0);
    let (status, answer) = gw.post("/v1/chat/completions", &gw.admin, &ask).await;
    assert_eq!(status, 200, "{answer}");
    let sent = mock.last_request().await;
    assert_eq!(sent["path"], "/api/paas/v4/chat/completions");
    assert_eq!(sent["body"]["do_sample"], false, "{sent}");
    assert_eq!(sent["body"]["top_p"], 0.99);
    // An Anthropic client's temperature 0 too.
    let body = json!({"model": "glm-4.6", "max_tokens": 32, "temperature": 0,
        "messages": [{"role": "user", "content": "Hi"}]});
    let (status, text) = anthropic_call(&gw, &gw.admin, &body).await;
    assert_eq!(status, 200, "{text}");
    // Zhipu's own error bodies still reach the client (here: a model it refuses).
    mock.fault(json!({"status": 400, "message": "模型不存在"}))
        .await;
    let (status, err) = gw
        .post("/v1/chat/completions", &gw.admin, &chat("glm-4.6"))
        .await;
    assert_eq!(status, 400);
    assert_eq!(err["error"]["message"], "模型不存在");
}

#[actix_web::test]
async fn long_agent_sessions_translate_whole() {
    let backend = Backend::sqlite();
    let (mock, gw) = claude_gateway(&backend).await;
    gw.add_provider("oai", &mock, json!(["gpt-4o-mini"]), &["sk-agent-key-0001"])
        .await;
    let tools: Vec<Value> = (0..40)
        .map(|i| {
            json!({"name": format!("tool_{i}"), "description": format!("Tool number {i}"),
            "input_schema": {"type": "object", "properties": {"arg": {"type": "string"}}}})
        })
        .collect();
    let mut messages = vec![json!({"role": "user", "content": "Do the task."})];
    for turn in 0..15 {
        let id = format!("toolu_{turn:02}");
        messages.push(json!({"role": "assistant", "content": [
            {"type": "text", "text": format!("Step {turn}.")},
            {"type": "tool_use", "id": id, "name": format!("tool_{}", turn % 40),
             "input": {"arg": format!("value {turn}")}}]}));
        messages.push(json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": id, "content": format!("result {turn}")}]}));
    }
    for model in ["gpt-4o-mini", "claude-sonnet-4-5"] {
        let body = json!({"model": model, "max_tokens": 256, "system": "You are an agent.",
            "tools": tools, "messages": messages});
        let (status, text) = anthropic_call(&gw, &gw.admin, &body).await;
        assert_eq!(status, 200, "{model}: {text}");
        let answer: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(answer["stop_reason"], "end_turn", "{answer}");
        let sent = mock.last_request().await["body"].clone();
        if model == "gpt-4o-mini" {
            let m = sent["messages"].as_array().unwrap();
            assert_eq!(
                m.len(),
                1 + 1 + 15 * 2,
                "system, user, then assistant/tool pairs"
            );
            assert_eq!(sent["tools"].as_array().unwrap().len(), 40);
            for turn in 0..15 {
                let call = &m[2 + 2 * turn];
                let result = &m[3 + 2 * turn];
                assert_eq!(call["tool_calls"][0]["id"], result["tool_call_id"]);
                assert_eq!(result["role"], "tool");
                assert_eq!(result["content"], format!("result {turn}"));
            }
        } else {
            assert_eq!(
                sent, body,
                "Anthropic to Anthropic passes through untouched"
            );
        }
    }
}

#[actix_web::test]
async fn an_overloaded_anthropic_key_fails_over_before_the_first_byte() {
    let backend = Backend::sqlite();
    let (mock, gw) = claude_gateway(&backend).await;
    let (status, _) = gw
        .admin_send(
            "POST",
            "/providers/claude/keys",
            &json!({"key": "sk-ant-second-0002"}),
        )
        .await;
    assert_eq!(status, 201);
    mock.fault(json!({"key": KEY, "status": 529, "message": "Overloaded"}))
        .await;
    for stream in [false, true] {
        for _ in 0..3 {
            let body = json!({"model": "claude-sonnet-4-5", "stream": stream,
                "messages": [{"role": "user", "content": "Hi"}]});
            let (status, text) = gw.chat_text(&gw.admin, &body).await;
            assert_eq!(status, 200, "{text}");
            assert!(text.contains("tok0"), "{text}");
        }
    }
    assert!(mock.calls_for("sk-ant-second-0002").await >= 6);
}
