//! In process, no binaries: every call leg — each client dialect against each provider
//! type's row of quirks — from the client's body, parsed as the handlers parse it, to the
//! upstream request an attempt sends, and from the upstream's canned answer (whole and
//! streamed) to what the client gets. One insta snapshot per pair in `snapshots/`, so a
//! new dialect or quirk shows its whole diff (`cargo insta review`, or
//! `INSTA_UPDATE=always cargo test --test e2e legs` to accept).

use bytes::{Bytes, BytesMut};
use serde_json::Value;

use gateway_zero::core::api_type::ApiType;
use gateway_zero::core::endpoint::Endpoint;
use gateway_zero::handlers::{chat_body, messages_body, responses_body};
use gateway_zero::upstream::leg::Leg;
use gateway_zero::upstream::quirks::Quirks;
use gateway_zero::upstream::{answer, request, stream, ClientRequest, Target};

/// The provider rows: (name in the snapshot, API type, speaks the Responses API).
const PROVIDERS: [(&str, ApiType, bool); 5] = [
    ("openai", ApiType::OpenAi, false),
    ("openai_responses", ApiType::OpenAi, true),
    ("deepseek", ApiType::DeepSeek, false),
    ("zhipu", ApiType::Zhipu, false),
    ("anthropic", ApiType::Anthropic, false),
];

/// One call in each client dialect: instructions, a question, the client's own cap of 50
/// and a temperature of 0 (which Zhipu must be sent as `do_sample: false`).
fn client_body(endpoint: Endpoint, stream: bool) -> String {
    match endpoint {
        Endpoint::ChatCompletions => format!(
            r#"{{"model":"m","stream":{stream},"max_tokens":50,"temperature":0,"messages":[{{"role":"system","content":"Be brief."}},{{"role":"user","content":"Hi"}}]}}"#
        ),
        Endpoint::Messages => format!(
            r#"{{"model":"m","stream":{stream},"max_tokens":50,"temperature":0,"system":"Be brief.","messages":[{{"role":"user","content":"Hi"}}]}}"#
        ),
        _ => format!(
            r#"{{"model":"m","stream":{stream},"max_output_tokens":50,"temperature":0,"store":false,"instructions":"Be brief.","input":"Hi"}}"#
        ),
    }
}

fn parse(endpoint: Endpoint, stream: bool) -> ClientRequest {
    let raw = Bytes::from(client_body(endpoint, stream));
    let mut req = match endpoint {
        Endpoint::ChatCompletions => chat_body::parse_request(endpoint, raw),
        Endpoint::Messages => {
            let http = actix_web::test::TestRequest::default()
                .insert_header(("anthropic-version", "2023-06-01"))
                .insert_header(("anthropic-beta", "fine-grained-tool-streaming-2025-05-14"))
                .to_http_request();
            messages_body::parse(&http, raw, true)
        }
        _ => responses_body::parse(raw),
    }
    .expect("a valid request");
    // A budget that can pay for 40 completion tokens: lower than the client's 50, so the
    // cap is rewritten where each upstream reads it.
    req.allowance = Some(40);
    req
}

/// The upstream's answer in its dialect: "Hello there." for 12 prompt and 3 completion
/// tokens, whole and as the event stream the vendor sends.
fn upstream_answer(leg: Leg, stream: bool) -> &'static str {
    use gateway_zero::core::endpoint::Dialect::*;
    match (leg.upstream, stream) {
        (Chat, false) => {
            r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"up-model","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}"#
        }
        (Chat, true) => concat!(
            "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"up-model\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hello\"}}]}\n\n",
            "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"up-model\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" there.\"},\"finish_reason\":\"stop\"}]}\n\n",
            "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"up-model\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3,\"total_tokens\":15}}\n\n",
            "data: [DONE]\n\n",
        ),
        (Messages, false) => {
            r#"{"id":"msg_1","type":"message","role":"assistant","model":"up-model","content":[{"type":"text","text":"Hello there."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":3}}"#
        }
        (Messages, true) => concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"up-model\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,\"output_tokens\":1}}}\n\n",
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" there.\"}}\n\n",
            "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":3}}\n\n",
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        ),
        (Responses, false) => {
            r#"{"id":"resp_1","object":"response","created_at":1,"status":"completed","model":"up-model","output":[{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hello there.","annotations":[]}]}],"usage":{"input_tokens":12,"output_tokens":3,"total_tokens":15}}"#
        }
        (Responses, true) => concat!(
            "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"created_at\":1,\"status\":\"in_progress\",\"model\":\"up-model\",\"output\":[]}}\n\n",
            "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":1,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hello there.\"}\n\n",
            "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":2,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"created_at\":1,\"status\":\"completed\",\"model\":\"up-model\",\"output\":[{\"type\":\"message\",\"id\":\"msg_1\",\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hello there.\",\"annotations\":[]}]}],\"usage\":{\"input_tokens\":12,\"output_tokens\":3,\"total_tokens\":15}}}\n\n",
        ),
    }
}

/// Ids and times the gateway makes up per call, replaced so snapshots are stable.
fn stable(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if matches!(key.as_str(), "created" | "created_at") && v.is_number() {
                    *v = Value::from(0);
                } else {
                    stable(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(stable),
        Value::String(s) => {
            let made_up = s.split_once(['_', '-']).is_some_and(|(_, rest)| {
                rest.len() >= 12 && rest.bytes().all(|b| b.is_ascii_alphanumeric())
            });
            if made_up {
                *s = "[id]".into();
            }
        }
        _ => {}
    }
}

/// A JSON body pretty-printed with made-up ids and times replaced.
fn pretty(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(mut value) => {
            stable(&mut value);
            serde_json::to_string_pretty(&value).unwrap()
        }
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    }
}

/// An event stream with each `data:` payload made stable.
fn stable_events(text: &[u8]) -> String {
    let mut out = String::new();
    for line in String::from_utf8_lossy(text).split_inclusive('\n') {
        match line
            .strip_prefix("data: ")
            .map(|d| (d, serde_json::from_str::<Value>(d.trim())))
        {
            Some((_, Ok(mut value))) => {
                stable(&mut value);
                out.push_str(&format!("data: {value}\n"));
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// The leg of `endpoint` on one provider row, as a document: both requests an attempt
/// sends (whole and streamed) and both answers the client gets.
fn document(endpoint: Endpoint, api_type: ApiType, responses: bool) -> String {
    let quirks = Quirks::of(api_type, responses);
    let leg = Leg::of(endpoint, quirks.dialects);
    let mut doc = format!(
        "leg: {:?} -> {:?} ({})\n",
        leg.client,
        leg.upstream,
        if leg.passes_through() {
            "passed through"
        } else {
            "translated"
        }
    );
    for streamed in [false, true] {
        let req = parse(endpoint, streamed);
        let target = Target {
            base_url: "https://upstream.test/v1",
            key: "sk-upstream-secret",
            model: "up-model",
            completion_cap: req.cap_for(Some(8192), 4096),
            max_output: Some(8192),
            leg,
            quirks,
        };
        let up = request::build(&target, endpoint, &req).expect("a request");
        doc.push_str(&format!(
            "\n=== {} upstream request\nPOST {}\n",
            if streamed { "streamed" } else { "whole" },
            up.url
        ));
        for (name, value) in &up.headers {
            doc.push_str(&format!("{name}: {}\n", value.replace(target.key, "[key]")));
        }
        doc.push_str(&pretty(&up.body));
        doc.push('\n');
        let canned = upstream_answer(leg, streamed);
        if streamed {
            let mut translator = stream::translator(leg, endpoint, &req, 1 << 20);
            let mut out = BytesMut::new();
            // Fed in uneven pieces, as a network delivers them.
            for piece in canned.as_bytes().chunks(37) {
                translator.feed(piece, &mut out).expect("a readable stream");
            }
            translator.finish(&mut out);
            doc.push_str(&format!(
                "\n=== streamed answer to the client (usage {:?}, completed {})\n{}",
                translator
                    .usage()
                    .map(|u| (u.prompt_tokens, u.completion_tokens)),
                translator.completed(),
                stable_events(&out)
            ));
        } else {
            let got = answer::read(
                leg,
                endpoint,
                &req,
                Bytes::from_static(canned.as_bytes()),
                false,
            );
            doc.push_str(&format!(
                "\n=== whole answer to the client (usage {:?})\n{}\n",
                got.usage.map(|u| (u.prompt_tokens, u.completion_tokens)),
                pretty(&got.body)
            ));
        }
    }
    doc
}

fn snapshots_of(endpoint: Endpoint, client: &str) {
    for (provider, api_type, responses) in PROVIDERS {
        let doc = document(endpoint, api_type, responses);
        insta::with_settings!({ snapshot_suffix => format!("{client}_to_{provider}"), prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!("leg", doc);
        });
    }
}

#[test]
fn chat_clients_on_every_provider() {
    snapshots_of(Endpoint::ChatCompletions, "chat");
}

#[test]
fn messages_clients_on_every_provider() {
    snapshots_of(Endpoint::Messages, "messages");
}

#[test]
fn responses_clients_on_every_provider() {
    snapshots_of(Endpoint::Responses, "responses");
}

/// The key never reaches a snapshot, and a stream's usage chunk the gateway asked for is
/// gone again from what a Chat client who did not ask gets.
#[test]
fn fixtures_hide_the_key_and_the_usage_chunk_the_gateway_asked_for() {
    let doc = document(Endpoint::ChatCompletions, ApiType::OpenAi, false);
    assert!(!doc.contains("sk-upstream-secret"));
    let streamed = doc.split("=== streamed answer").nth(1).unwrap();
    assert!(!streamed.contains("\"usage\""), "{streamed}");
    assert!(doc.contains("\"include_usage\": true"), "{doc}");
}
