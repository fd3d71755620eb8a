//! The pass-through body rewriter: what each upstream gets, and that nothing changes when
//! nothing must.

use super::*;
use crate::core::api_type::ApiType;
use crate::upstream::leg::Leg;

fn request(raw: &str, stream: bool, wants_usage: bool) -> ClientRequest {
    ClientRequest {
        raw: Bytes::from(raw.to_string()),
        model: "gpt-4o".into(),
        stream,
        wants_usage_chunk: wants_usage,
        n: 1,
        ..ClientRequest::default()
    }
}

fn target(api_type: ApiType, model: &str, cap: Option<i64>) -> Target<'_> {
    let quirks = Quirks::of(api_type, false);
    Target {
        base_url: "http://x",
        key: "k",
        model,
        completion_cap: cap,
        max_output: None,
        leg: Leg::of(
            crate::core::endpoint::Endpoint::ChatCompletions,
            quirks.dialects,
        ),
        quirks,
    }
}

fn sent(dialect: Dialect, target: &Target<'_>, req: &ClientRequest) -> Value {
    serde_json::from_slice(&body(dialect, target, req).unwrap()).unwrap()
}

#[test]
fn body_is_untouched_when_nothing_changes() {
    let raw = r#"{"model":"gpt-4o","messages":[],"x_custom":1}"#;
    let req = request(raw, false, false);
    for api_type in [ApiType::OpenAi, ApiType::DeepSeek, ApiType::Zhipu] {
        let sent = body(Dialect::Chat, &target(api_type, "gpt-4o", None), &req).unwrap();
        assert_eq!(sent, raw.as_bytes(), "{api_type}");
    }
}

#[test]
fn body_rewrites_model_and_asks_for_usage() {
    let raw = r#"{"model":"gpt-4o","stream":true,"messages":[],"x_custom":1}"#;
    let req = request(raw, true, false);
    let body = sent(
        Dialect::Chat,
        &target(ApiType::OpenAi, "gpt-4o-2024", None),
        &req,
    );
    assert_eq!(body["model"], "gpt-4o-2024");
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert_eq!(body["x_custom"], 1, "unknown fields pass through");
}

#[test]
fn the_cap_goes_into_the_fields_the_upstream_reads() {
    let mut req = request(r#"{"model":"gpt-4o","messages":[]}"#, false, false);
    let body = sent(
        Dialect::Chat,
        &target(ApiType::OpenAi, "gpt-4o", Some(7)),
        &req,
    );
    assert_eq!(body["max_completion_tokens"], 7);
    assert!(body.get("max_tokens").is_none());
    let body = sent(
        Dialect::Chat,
        &target(ApiType::DeepSeek, "gpt-4o", Some(7)),
        &req,
    );
    assert_eq!(body["max_tokens"], 7);
    req.raw = Bytes::from_static(
        br#"{"model":"gpt-4o","messages":[],"max_tokens":9,"max_completion_tokens":99}"#,
    );
    req.sent_max_tokens = true;
    req.sent_max_completion_tokens = true;
    let body = sent(
        Dialect::Chat,
        &target(ApiType::OpenAi, "gpt-4o", Some(7)),
        &req,
    );
    assert_eq!(
        (
            body["max_tokens"].as_i64(),
            body["max_completion_tokens"].as_i64()
        ),
        (Some(7), Some(7))
    );
    let body = sent(
        Dialect::Chat,
        &target(ApiType::Zhipu, "gpt-4o", Some(7)),
        &req,
    );
    assert_eq!(body["max_tokens"], 7);
    assert!(
        body.get("max_completion_tokens").is_none(),
        "Zhipu reads max_tokens only: the other field goes"
    );
}

#[test]
fn a_cap_the_client_already_wrote_where_the_upstream_reads_it_changes_nothing() {
    let raw = r#"{"model":"gpt-4o","messages":[],"max_tokens":7}"#;
    let mut req = request(raw, false, false);
    req.client_cap = Some(7);
    req.sent_max_tokens = true;
    for api_type in [ApiType::OpenAi, ApiType::DeepSeek] {
        let sent = body(Dialect::Chat, &target(api_type, "gpt-4o", Some(7)), &req).unwrap();
        assert_eq!(sent, raw.as_bytes(), "{api_type}");
    }
}

#[test]
fn zhipu_gets_its_sampling_bounds_and_no_stream_options() {
    let zhipu = target(ApiType::Zhipu, "gpt-4o", None);
    let send = |raw: &'static str| sent(Dialect::Chat, &zhipu, &request(raw, false, false));
    let body = send(r#"{"model":"gpt-4o","messages":[],"temperature":0,"top_p":1}"#);
    assert!(body.get("temperature").is_none(), "{body}");
    assert_eq!(body["do_sample"], false);
    assert_eq!(body["top_p"], 0.99);
    let body = send(r#"{"model":"gpt-4o","messages":[],"temperature":1.8}"#);
    assert_eq!(body["temperature"], 1.0);
    let body = send(r#"{"model":"gpt-4o","messages":[],"temperature":0.5}"#);
    assert_eq!(body["temperature"], 0.5, "in range: unchanged");
    let raw = r#"{"model":"gpt-4o","stream":true,"messages":[]}"#;
    assert_eq!(
        super::body(Dialect::Chat, &zhipu, &request(raw, true, false)).unwrap(),
        raw.as_bytes(),
        "no stream_options for Zhipu: its last chunk carries usage"
    );
}

#[test]
fn a_lowered_messages_cap_keeps_thinking_below_it() {
    let anthropic = |cap| target(ApiType::Anthropic, "claude", Some(cap));
    let raw = r#"{"model":"claude","max_tokens":64000,"thinking":{"type":"enabled","budget_tokens":32000},"messages":[]}"#;
    let mut req = request(raw, false, false);
    req.model = "claude".into();
    req.client_cap = Some(64_000);
    let body = sent(Dialect::Messages, &anthropic(5000), &req);
    assert_eq!(body["max_tokens"], 5000);
    assert_eq!(body["thinking"]["budget_tokens"], 4999);
    let body = sent(Dialect::Messages, &anthropic(900), &req);
    assert_eq!(body["max_tokens"], 900);
    assert!(
        body.get("thinking").is_none(),
        "below Anthropic's smallest thinking budget thinking goes"
    );
}

#[test]
fn a_responses_cap_goes_into_max_output_tokens() {
    let raw = r#"{"model":"gpt-4o","input":"hi"}"#;
    let req = request(raw, false, false);
    let body = sent(
        Dialect::Responses,
        &target(ApiType::OpenAi, "gpt-4o", Some(12)),
        &req,
    );
    assert_eq!(body["max_output_tokens"], 12);
    assert!(body.get("max_completion_tokens").is_none());
}
