//! Claude Code itself (npm `@anthropic-ai/claude-code`, pinned in tests/claude_code) against
//! the gateway, through an OpenAI-type provider: its Messages requests (system entries
//! inside `messages`, two dozen tools, streaming) are translated and answered. CI installs
//! it and sets GATEWAY_TEST_CLAUDE_CODE=1, which makes its absence a failure.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;

/// The Claude Code executable npm installed (the platform package's native binary; the
/// wrapper's own `claude` is only a placeholder until its postinstall script has run).
fn claude_code(dir: &str) -> Option<PathBuf> {
    let modules = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(dir)
        .join("node_modules");
    let found = ["@anthropic-ai/claude-code-linux-x64/claude", ".bin/claude"]
        .iter()
        .map(|p| modules.join(p))
        .find(|p| {
            Command::new(p)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    let required = std::env::var("GATEWAY_TEST_CLAUDE_CODE").is_ok_and(|v| v == "1");
    assert!(
        found.is_some() || !required,
        "GATEWAY_TEST_CLAUDE_CODE=1 but Claude Code is not installed in {dir}"
    );
    if found.is_none() {
        eprintln!("skipping: Claude Code is not installed (npm install --prefix {dir})");
    }
    found
}

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
        let child = Command::new(claude)
            .current_dir(project.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("ANTHROPIC_BASE_URL", gateway)
            .env("ANTHROPIC_API_KEY", token)
            // Offline: no update checks, telemetry or other calls home.
            .env("DISABLE_AUTOUPDATER", "1")
            .env("DISABLE_TELEMETRY", "1")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .args(["-p", "Say hello", "--model", "gpt-4o-mini"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run Claude Code");
        wait_at_most(child, Duration::from_secs(120))
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
