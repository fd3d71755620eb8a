//! Claude Code itself (npm `@anthropic-ai/claude-code`, pinned in tests/claude_code) against
//! the gateway, through an OpenAI-type provider: its Messages requests (system entries
//! inside `messages`, two dozen tools, streaming) are translated and answered. CI installs
//! it and sets GATEWAY_TEST_CLAUDE_CODE=1, which makes its absence a failure.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::harness::*;

/// The older pin (tests/claude_code, 2.1.197).
#[actix_web::test]
async fn claude_code_works_through_an_openai_type_provider() {
    if let Some(claude) = claude_code("tests/claude_code") {
        works_through_an_openai_type_provider(claude).await;
    }
}

/// The newest pin (tests/claude_code_latest, 2.1.332).
#[actix_web::test]
async fn the_newest_claude_code_works_through_an_openai_type_provider() {
    if let Some(claude) = claude_code("tests/claude_code_latest") {
        works_through_an_openai_type_provider(claude).await;
    }
}

async fn works_through_an_openai_type_provider(claude: PathBuf) {
    let backend = Backend::sqlite();
    let (mock, gw) = gateway_with_mock(&backend, &[], Value::Null, &["sk-claude-code-0001"]).await;
    let (_, token) = {
        let (status, created) = gw
            .admin_send(
                "POST",
                "/admin/tokens",
                &json!({"name": "claude-code", "max_tokens": 2_000_000}),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        (
            created["id"].clone(),
            created["token"].as_str().unwrap().to_string(),
        )
    };
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let gateway = gw.base.clone();
    let out = actix_web::rt::task::spawn_blocking(move || {
        let args = ["Say hello", "--model", "gpt-4o-mini"];
        let to = (gateway.as_str(), token.as_str());
        run_claude_code(&claude, project.path(), home.path(), to, &[], &args)
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "Claude Code failed: {stdout}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        gw.logs()
    );
    assert!(stdout.contains("tok0"), "the mock's answer: {stdout}");
    // What reached the OpenAI-type upstream: Claude Code's system entries, as system
    // messages after the first user turn, and its tools.
    let (_, requests) = get_json(&format!("{}/_mock/requests?limit=20", mock.base), None).await;
    let bodies: Vec<&Value> = requests["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["body"])
        .collect();
    assert!(!bodies.is_empty());
    let system_later = bodies.iter().any(|b| {
        b["messages"]
            .as_array()
            .is_some_and(|m| m.iter().skip(1).any(|m| m["role"] == "system"))
    });
    assert!(
        system_later,
        "Claude Code's in-message system entries arrive"
    );
    assert!(bodies
        .iter()
        .all(|b| b["stream"] == true && b["tools"].is_array()));
    assert!(
        bodies.iter().all(|b| b["max_completion_tokens"].is_i64()),
        "a budgeted token's calls are capped"
    );
}

/// A real tool-using task, on both pins, through an OpenAI-type and an Anthropic-type
/// provider: the mock plays a model that calls Claude Code's own Bash tool to write a file
/// and print it, then answers once it has read the tool's output back.
#[actix_web::test]
async fn claude_code_runs_its_bash_tool_through_both_provider_types() {
    let pins: Vec<PathBuf> = ["tests/claude_code", "tests/claude_code_latest"]
        .iter()
        .filter_map(|dir| claude_code(dir))
        .collect();
    if pins.is_empty() {
        return;
    }
    let backend = Backend::sqlite();
    let (mock, gw) = three_providers(&backend).await;
    let (_, token) = token_with(&gw, json!({"max_tokens": 5_000_000})).await;
    for claude in pins {
        for model in ["gpt-4o-mini", "claude-sonnet-4-5"] {
            mock.reset().await;
            mock.fault(json!({"tool": "Bash", "tool_input": {
                "command": "echo gateway-ok > hello.txt && cat hello.txt",
                "description": "Write hello.txt and show it"}}))
                .await;
            let home = tempfile::tempdir().unwrap();
            let project = tempfile::tempdir().unwrap();
            let dir = project.path().to_path_buf();
            let (gateway, token, claude_bin) = (gw.base.clone(), token.clone(), claude.clone());
            let out = actix_web::rt::task::spawn_blocking(move || {
                let args = [
                    "Create hello.txt",
                    "--model",
                    model,
                    "--allowedTools",
                    "Bash",
                ];
                let to = (gateway.as_str(), token.as_str());
                run_claude_code(&claude_bin, &dir, home.path(), to, &[], &args)
            })
            .await
            .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success(),
                "{claude:?} {model}: {stdout}\n{stderr}"
            );
            let written = std::fs::read_to_string(project.path().join("hello.txt"));
            assert_eq!(
                written.ok().as_deref(),
                Some("gateway-ok\n"),
                "{claude:?} {model}: the tool ran"
            );
            assert!(
                stdout.contains("tok0"),
                "{claude:?} {model}: the final answer: {stdout}"
            );
            // The tool's output went back upstream.
            let (_, requests) =
                get_json(&format!("{}/_mock/requests?limit=50", mock.base), None).await;
            assert!(
                requests.to_string().contains("gateway-ok"),
                "{claude:?} {model}: the tool output never reached the upstream"
            );
        }
    }
    // Claude Code's reachability probe (HEAD on its base URL) was answered, and nothing it
    // asked for went unrouted.
    let (_, raw) = send_raw("GET", &gw.url("/metrics"), None, None, Vec::new()).await;
    let metrics = String::from_utf8_lossy(&raw).to_string();
    assert!(
        metrics.contains("gateway_http_requests_total{route=\"/\",method=\"HEAD\",status=\"200\"}"),
        "Claude Code's probe was not answered: {metrics}"
    );
    assert!(!metrics.contains("route=\"unmatched\""), "{metrics}");
}
