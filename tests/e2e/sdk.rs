//! The official OpenAI Python SDK against the gateway (chat, stream, embeddings, models).
//! CI installs the SDK and sets GATEWAY_TEST_OPENAI_SDK=1, which makes its absence a failure.

use serde_json::json;

use crate::harness::*;

fn sdk_available(module: &str) -> bool {
    std::process::Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[actix_web::test]
async fn official_openai_python_sdk_works() {
    let required = std::env::var("GATEWAY_TEST_OPENAI_SDK").is_ok_and(|v| v == "1");
    if !sdk_available("openai") {
        assert!(
            !required,
            "GATEWAY_TEST_OPENAI_SDK=1 but `import openai` fails"
        );
        eprintln!("skipping: the openai Python package is not installed");
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
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/openai_sdk_check.py");
    let out = std::process::Command::new("python3")
        .args([script, &gw.base, &token])
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "SDK check failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The official Anthropic Python SDK against `/v1/messages`, with an OpenAI-type and an
/// Anthropic-type provider behind it. Required where GATEWAY_TEST_ANTHROPIC_SDK=1 (CI).
#[actix_web::test]
async fn official_anthropic_python_sdk_works() {
    let required = std::env::var("GATEWAY_TEST_ANTHROPIC_SDK").is_ok_and(|v| v == "1");
    if !sdk_available("anthropic") {
        assert!(
            !required,
            "GATEWAY_TEST_ANTHROPIC_SDK=1 but `import anthropic` fails"
        );
        eprintln!("skipping: the anthropic Python package is not installed");
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
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/sdk/anthropic_sdk_check.py"
    );
    let out = std::process::Command::new("python3")
        .args([script, &gw.base, &token, "gpt-4o-mini", "claude-sonnet-4-5"])
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "Anthropic SDK check failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
