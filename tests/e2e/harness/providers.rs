//! A gateway with one provider of each kind on one mock.

#![allow(dead_code)]

use serde_json::json;

use super::*;

/// A gateway whose models are served by three provider types: `gpt-*` by an OpenAI-type
/// provider (translated to Chat Completions), `claude-*` by an Anthropic one (translated to
/// Messages), `native-*` by an OpenAI-type provider set to `responses = "native"`.
pub async fn three_providers(backend: &Backend) -> (Mock, Gateway) {
    let (mock, gw) =
        gateway_with_mock(backend, &[], json!(["gpt-*"]), &["sk-resp-chat-0001"]).await;
    gw.add_typed_provider(
        "claude",
        "anthropic",
        &mock.v1(),
        json!(["claude-*"]),
        &["sk-resp-ant-0001"],
    )
    .await;
    gw.add_typed_provider(
        "native",
        "openai",
        &mock.v1(),
        json!(["native-*"]),
        &["sk-resp-native-01"],
    )
    .await;
    let (status, body) = gw
        .admin_send(
            "PATCH",
            "/providers/native",
            &json!({"responses": "native"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["responses"], "native");
    let (_, mock_provider) = gw.admin_send("GET", "/providers/mock", &Value::Null).await;
    assert_eq!(
        mock_provider["responses"], "chat",
        "not api.openai.com: translated"
    );
    (mock, gw)
}
