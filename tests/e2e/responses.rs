//! OpenAI's Responses API (contract section 3, "OpenAI Responses API") in front of every
//! provider type: the official Python SDK and Codex as clients; state kept per token in
//! the database (both backends, read by a second instance); budgets, billing of cut
//! streams and logs as on the other routes.

use std::time::{Duration, Instant};

use entity::{request_log, stored_response};
use futures::future::join_all;
use futures::StreamExt;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

use crate::harness::*;

async fn respond(gw: &Gateway, token: &str, body: Value) -> (u16, Value) {
    let (status, answer) = gw.post("/v1/responses", token, &body).await;
    (status.as_u16(), answer)
}

fn output_text(response: &Value) -> String {
    response["output"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|item| item["content"].as_array().into_iter().flatten())
        .filter_map(|part| part["text"].as_str())
        .collect()
}

/// The official OpenAI Python SDK (`responses.create`, `.stream`, `.retrieve`,
/// `.input_items.list`, `.delete`, a function call answered through
/// `previous_response_id`, `store=False` item lists) against each provider type.
#[actix_web::test]
async fn the_official_sdk_speaks_responses_to_every_provider_type() {
    if !sdk_ready("openai", "GATEWAY_TEST_OPENAI_SDK") {
        return;
    }
    let backend = Backend::sqlite();
    let (_mock, gw) = three_providers(&backend).await;
    let token = gw.token(&backend, &["--name", "responses-sdk"]);
    run_check(
        "openai_responses_check.py",
        &[
            &gw.base,
            &token,
            "gpt-4o-mini",
            "claude-sonnet-4-5",
            "native-4o",
        ],
    );
}

/// Stored responses: continued, read, listed and deleted by their own token only; the
/// conversation encrypted at rest; another instance on the same database sees them; a
/// chain longer than the bound is refused.
#[actix_web::test]
async fn stored_responses_belong_to_their_token_and_are_encrypted() {
    for backend in Backend::all().await {
        let (_mock, gw) = three_providers(&backend).await;
        let (_, alice) = token_with(&gw, json!({})).await;
        let (_, bob) = token_with(&gw, json!({})).await;
        let secret = "the vault code is 4711";
        let (status, first) =
            respond(&gw, &alice, json!({"model": "claude-x", "input": secret})).await;
        assert_eq!(status, 200, "{first}");
        let id = first["id"].as_str().unwrap().to_string();
        assert!(id.starts_with("resp_"));

        // Bob cannot see, continue or delete Alice's response.
        let (status, body) = gw.get(&format!("/v1/responses/{id}"), &bob).await;
        assert_error(status, &body, 404, "not_found_error", None);
        let (status, body) = respond(
            &gw,
            &bob,
            json!({"model": "gpt-4o-mini", "input": "go on", "previous_response_id": id}),
        )
        .await;
        assert_eq!(status, 404, "{body}");
        let (status, _) = send_json(
            "DELETE",
            &gw.url(&format!("/v1/responses/{id}")),
            Some(&bob),
            &Value::Null,
        )
        .await;
        assert_eq!(status, 404);

        // Alice continues it on another provider type: the stored conversation arrives.
        let (status, second) = respond(
            &gw,
            &alice,
            json!({"model": "gpt-4o-mini", "input": "and then?", "previous_response_id": id}),
        )
        .await;
        assert_eq!(status, 200, "{second}");
        assert_eq!(second["previous_response_id"], id.as_str());
        let (_, sent) = get_json(&format!("{}/_mock/requests?limit=1", _mock.base), None).await;
        let messages = sent["data"][0]["body"]["messages"].to_string();
        assert!(
            messages.contains(secret)
                && messages.contains("tok0")
                && messages.contains("and then?"),
            "the chain was sent whole: {messages}"
        );

        // At rest the conversation is ciphertext.
        let db = backend.connect().await;
        let row = stored_response::Entity::find_by_id(id.clone())
            .one(&db)
            .await
            .unwrap()
            .expect("stored");
        assert!(
            !row.input.contains("vault") && !row.response.contains("tok0"),
            "{row:?}"
        );

        // Another instance on the same database serves it (cluster-wide on Postgres; the
        // same file on SQLite).
        let other = Gateway::start(&backend, &[]);
        let (status, read) = other.get(&format!("/v1/responses/{id}"), &alice).await;
        assert_eq!(status, 200, "{read}");
        assert_eq!(output_text(&read), output_text(&first));
        let (status, items) = other
            .get(&format!("/v1/responses/{id}/input_items"), &alice)
            .await;
        assert_eq!(status, 200, "{items}");
        assert_eq!(items["data"][0]["content"][0]["text"], secret);
        drop(other);

        // Deleted: gone, and so is the chain through it.
        let (status, body) = send_json(
            "DELETE",
            &gw.url(&format!("/v1/responses/{id}")),
            Some(&alice),
            &Value::Null,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["deleted"], true);
        let (status, _) = gw.get(&format!("/v1/responses/{id}"), &alice).await;
        assert_eq!(status, 404);
        let second_id = second["id"].as_str().unwrap();
        let (status, body) = respond(
            &gw,
            &alice,
            json!({"model": "gpt-4o-mini", "input": "more", "previous_response_id": second_id}),
        )
        .await;
        assert_eq!(status, 404, "a chain with a missing link: {body}");

        // store: false keeps nothing.
        let (status, loose) = respond(
            &gw,
            &alice,
            json!({"model": "gpt-4o-mini", "input": "x", "store": false}),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(loose["store"], false);
        let (status, _) = gw
            .get(
                &format!("/v1/responses/{}", loose["id"].as_str().unwrap()),
                &alice,
            )
            .await;
        assert_eq!(status, 404);
        backend.drop_database().await;
    }
}

#[actix_web::test]
async fn a_chain_longer_than_the_bound_is_refused() {
    let backend = Backend::sqlite();
    let (_mock, gw) = gateway_with_mock(
        &backend,
        &[("GATEWAY__RESPONSES__MAX_CHAIN_RESPONSES", "3")],
        json!(["gpt-4o-mini"]),
        &["sk-resp-chain-0001"],
    )
    .await;
    let (_, token) = token_with(&gw, json!({})).await;
    let mut previous = Value::Null;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let (status, body) = respond(
            &gw,
            &token,
            json!({"model": "gpt-4o-mini", "input": "again", "previous_response_id": previous}),
        )
        .await;
        statuses.push(status);
        if status != 200 {
            assert_error(
                status.try_into().unwrap(),
                &body,
                400,
                "invalid_request_error",
                None,
            );
            assert!(body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("max_chain_responses"));
            break;
        }
        previous = body["id"].clone();
    }
    assert_eq!(
        statuses,
        vec![200, 200, 200, 200, 400],
        "3 stored links load; a 4th is refused"
    );
}

/// Budgets hold on `/v1/responses` as on the other routes, for each provider type: with
/// `max_output_tokens` absent, larger than the budget, and streamed, one by one and 12 at
/// once. The `*-long` models write 4096 tokens unless capped.
#[actix_web::test]
async fn budgets_hold_on_the_responses_route() {
    let backend = Backend::sqlite();
    let (_mock, gw) = three_providers(&backend).await;
    let db = backend.connect().await;
    for model in ["gpt-long", "claude-long", "native-long"] {
        price(&gw, model, Some(4096)).await;
        let bodies = [
            json!({"model": model, "input": "write"}),
            json!({"model": model, "input": "write", "max_output_tokens": 100_000}),
            json!({"model": model, "input": "write", "stream": true}),
            json!({"model": model, "input": "write", "stream": true, "max_output_tokens": 100_000}),
        ];
        for limits in [json!({"max_tokens": 1000}), json!({"max_amount": 0.002})] {
            let (id, token) = token_with(&gw, limits.clone()).await;
            let mut calls = 0;
            for body in bodies.iter().cycle() {
                calls += 1;
                assert!(calls < 100, "{model}: the budget never ran out");
                let (status, text) = send_raw(
                    "POST",
                    &gw.url("/v1/responses"),
                    Some(&token),
                    Some("application/json"),
                    body.to_string().into_bytes(),
                )
                .await;
                let text = String::from_utf8_lossy(&text);
                if status == 429 {
                    assert!(text.contains("insufficient_quota"), "{text}");
                    break;
                }
                assert_eq!(status, 200, "{model}: {text}");
                if body["stream"] != true {
                    let answer: Value = serde_json::from_str(&text).unwrap();
                    assert_eq!(answer["status"], "incomplete", "the cap bit: {answer}");
                    assert_eq!(answer["incomplete_details"]["reason"], "max_output_tokens");
                } else {
                    assert!(text.contains("response.incomplete"), "{text}");
                }
            }
            let row = settled_row(&db, id, calls).await;
            // 12 at once on a fresh token.
            let (id2, token2) = token_with(&gw, limits.clone()).await;
            let burst = (0..12).map(|i| {
                let body = bodies[i % bodies.len()].clone();
                let (gw, token2) = (&gw, token2.clone());
                async move { gw.post("/v1/responses", &token2, &body).await.0.as_u16() }
            });
            let statuses = join_all(burst).await;
            assert!(
                statuses.iter().all(|s| *s == 200 || *s == 429),
                "{statuses:?}"
            );
            let row2 = settled_row(&db, id2, 12).await;
            for r in [row, row2] {
                if limits.get("max_tokens").is_some() {
                    assert!(
                        r.total_tokens <= 1000,
                        "{model}: {} of 1000 tokens",
                        r.total_tokens
                    );
                    assert!(r.total_tokens > 400, "{model}: usable: {}", r.total_tokens);
                } else {
                    assert!(
                        r.amount_spent_nano <= 2_000_000,
                        "{model}: {} of 2000000 nano-USD",
                        r.amount_spent_nano
                    );
                    assert!(
                        r.amount_spent_nano > 800_000,
                        "{model}: usable: {}",
                        r.amount_spent_nano
                    );
                }
            }
        }
    }
    // Logged as `responses`, with usage and cost.
    let rows = request_log::Entity::find()
        .filter(request_log::Column::Endpoint.eq("responses"))
        .filter(request_log::Column::StatusCode.eq(200))
        .all(&db)
        .await
        .unwrap();
    assert!(rows.len() > 10);
    assert!(
        rows.iter()
            .all(|r| r.completion_tokens > 0 && r.amount_nano > 0),
        "{rows:?}"
    );
}

/// A translated stream goes out event by event (the first text before the upstream's
/// last chunk), and a stream the client cuts is billed what was relayed.
#[actix_web::test]
async fn translated_streams_flow_and_cut_streams_are_billed() {
    let backend = Backend::sqlite();
    let (mock, gw) = three_providers(&backend).await;
    let (id, token) = token_with(&gw, json!({})).await;
    for model in ["gpt-4o-mini", "claude-x"] {
        mock.reset().await;
        mock.fault(json!({"chunk_delay_ms": 150})).await;
        let started = Instant::now();
        let mut resp = client()
            .post(gw.url("/v1/responses"))
            .insert_header(("authorization", format!("Bearer {token}")))
            .send_json(&json!({"model": model, "input": "slowly", "stream": true}))
            .await
            .unwrap();
        let mut first_text = None;
        let mut all = String::new();
        while let Some(chunk) = resp.next().await {
            let chunk = String::from_utf8_lossy(&chunk.unwrap()).to_string();
            if first_text.is_none() && chunk.contains("response.output_text.delta") {
                first_text = Some(started.elapsed());
            }
            all.push_str(&chunk);
        }
        let total = started.elapsed();
        let first = first_text.expect("text deltas");
        assert!(all.contains("response.completed"), "{all}");
        assert!(
            total >= Duration::from_millis(1000) && first < total / 2,
            "{model}: first text at {first:?} of {total:?}"
        );
    }
    // Cut by the client after the first bytes: billed at least what was relayed.
    mock.reset().await;
    mock.fault(json!({"chunk_delay_ms": 300})).await;
    let mut resp = client()
        .post(gw.url("/v1/responses"))
        .insert_header(("authorization", format!("Bearer {token}")))
        .send_json(&json!({"model": "gpt-4o-mini", "input": "then hang up", "stream": true}))
        .await
        .unwrap();
    let mut seen = String::new();
    while !seen.contains("output_text.delta") {
        seen.push_str(&String::from_utf8_lossy(
            &resp.next().await.unwrap().unwrap(),
        ));
    }
    drop(resp);
    let db = backend.connect().await;
    let row = eventually(Duration::from_secs(5), || async {
        request_log::Entity::find()
            .filter(request_log::Column::TokenId.eq(id))
            .filter(request_log::Column::StatusCode.eq(499))
            .one(&db)
            .await
            .ok()
            .flatten()
    })
    .await
    .expect("the cut call is logged");
    assert_eq!(row.endpoint, "responses");
    assert!(
        row.prompt_tokens > 0 && row.completion_tokens >= 1,
        "{row:?}"
    );
}

/// Codex 0.169 (`codex exec`, a custom provider whose base_url is the gateway, `wire_api =
/// "responses"`) runs a real tool-using task through an OpenAI-type and an Anthropic-type
/// provider: the mock calls Codex's own command tool to write a file and print it, and
/// answers once the tool's output came back.
#[actix_web::test]
async fn codex_runs_its_command_tool_through_a_custom_provider() {
    let Some(codex) = codex("tests/codex") else {
        return;
    };
    let backend = Backend::sqlite();
    let (mock, gw) = three_providers(&backend).await;
    let (_, token) = token_with(&gw, json!({"max_tokens": 5_000_000})).await;
    for model in ["gpt-4o-mini", "claude-sonnet-4-5"] {
        let config = format!(
            "model = \"{model}\"\nmodel_provider = \"gateway\"\n\
             [model_providers.gateway]\nname = \"Gateway Zero\"\n\
             base_url = \"{}/v1\"\nenv_key = \"GATEWAY_ZERO_TOKEN\"\nwire_api = \"responses\"\n",
            gw.base
        );
        let key = ("GATEWAY_ZERO_TOKEN", token.clone());
        let (_, requests) = codex_writes_a_file(&codex, &mock, config, key).await;
        let bodies = requests["data"].as_array().unwrap();
        assert!(
            bodies.iter().all(|r| r["body"]["stream"] == true),
            "{model}: over SSE"
        );
    }
}
