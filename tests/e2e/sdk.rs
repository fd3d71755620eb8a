//! The official OpenAI and Anthropic Python SDKs against the gateway. CI installs both and
//! sets GATEWAY_TEST_OPENAI_SDK=1 and GATEWAY_TEST_ANTHROPIC_SDK=1, which make their absence
//! a failure.

use serde_json::json;

use crate::harness::*;

#[actix_web::test]
async fn official_openai_python_sdk_works() {
    if !sdk_ready("openai", "GATEWAY_TEST_OPENAI_SDK") {
        return;
    }
    let backend = Backend::sqlite();
    let (mock, gw) = gateway_with_mock(
        &backend,
        &[],
        json!(["gpt-4o-mini", "text-embedding-3-small"]),
        &["sk-sdk-key-0000001"],
    )
    .await;
    // Claude behind the OpenAI API: the same mock speaks Anthropic's Messages API.
    gw.add_typed_provider(
        "claude",
        "anthropic",
        &mock.v1(),
        json!(["claude-*"]),
        &["sk-ant-sdk-key-0001"],
    )
    .await;
    let token = gw.token(&backend, &["--name", "sdk"]);
    run_check("openai_sdk_check.py", &[&gw.base, &token]);
}

/// The official Anthropic Python SDK against `/v1/messages`, with an OpenAI-type and an
/// Anthropic-type provider behind it. Required where GATEWAY_TEST_ANTHROPIC_SDK=1 (CI).
#[actix_web::test]
async fn official_anthropic_python_sdk_works() {
    if !sdk_ready("anthropic", "GATEWAY_TEST_ANTHROPIC_SDK") {
        return;
    }
    let backend = Backend::sqlite();
    let (mock, gw) = gateway_with_mock(
        &backend,
        &[],
        json!(["gpt-4o-mini"]),
        &["sk-sdk-key-0000002"],
    )
    .await;
    gw.add_typed_provider(
        "claude",
        "anthropic",
        &mock.v1(),
        json!(["claude-*"]),
        &["sk-ant-sdk-key-0002"],
    )
    .await;
    let token = gw.token(&backend, &["--name", "anthropic-sdk"]);
    run_check(
        "anthropic_sdk_check.py",
        &[&gw.base, &token, "gpt-4o-mini", "claude-sonnet-4-5"],
    );
}
