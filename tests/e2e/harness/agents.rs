//! The coding agents the tests run against the gateway, as npm installed them: Claude Code
//! (`tests/claude_code`, `tests/claude_code_latest`) and Codex (`tests/codex`,
//! `tests/codex_latest`). CI installs them and sets `GATEWAY_TEST_CLAUDE_CODE=1` /
//! `GATEWAY_TEST_CODEX=1`, which makes a missing pin a failure instead of a skip.

use std::path::PathBuf;
use std::process::Command;

/// The first of `candidates` (paths under `dir/node_modules`) that runs `--version`.
fn installed(dir: &str, candidates: &[&str], required_by: &str) -> Option<PathBuf> {
    let modules = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(dir)
        .join("node_modules");
    let found = candidates.iter().map(|p| modules.join(p)).find(|p| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let required = std::env::var(required_by).is_ok_and(|v| v == "1");
    assert!(
        found.is_some() || !required,
        "{required_by}=1 but nothing is installed in {dir}"
    );
    if found.is_none() {
        eprintln!("skipping: nothing installed in {dir} (npm install --prefix {dir})");
    }
    found
}

/// Claude Code's executable in `dir` (the platform package's native binary; the wrapper's
/// own `claude` is only a placeholder until its postinstall script has run).
pub fn claude_code(dir: &str) -> Option<PathBuf> {
    installed(
        dir,
        &["@anthropic-ai/claude-code-linux-x64/claude", ".bin/claude"],
        "GATEWAY_TEST_CLAUDE_CODE",
    )
}

/// Codex's executable in `dir`.
pub fn codex(dir: &str) -> Option<PathBuf> {
    installed(dir, &[".bin/codex"], "GATEWAY_TEST_CODEX")
}

/// Runs Claude Code (`claude`) once in `project` against the gateway at `base_url` with
/// `token`, offline (no update checks, telemetry or other calls home), with `extra` in its
/// environment and `args` after `-p`; its output once it exits (killed after two minutes).
pub fn run_claude_code(
    claude: &std::path::Path,
    project: &std::path::Path,
    home: &std::path::Path,
    (base_url, token): (&str, &str),
    extra: &[(&str, &str)],
    args: &[&str],
) -> std::process::Output {
    let mut command = Command::new(claude);
    command
        .current_dir(project)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("ANTHROPIC_BASE_URL", base_url)
        .env("ANTHROPIC_API_KEY", token)
        .env("DISABLE_AUTOUPDATER", "1")
        .env("DISABLE_TELEMETRY", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .envs(extra.iter().copied())
        .arg("-p")
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = command.spawn().expect("run Claude Code");
    super::wait_at_most(child, std::time::Duration::from_secs(120))
}

/// One Codex run of the file-writing task through the gateway, with `config` as its
/// `config.toml` and `key` (variable, token) in its environment: the mock (reset first)
/// calls Codex's own `exec_command` tool to write `hello.txt` and print it, then answers
/// once the tool's output came back. Asserts the run, the file, the final answer and the
/// tool output seen upstream; returns Codex's stderr and the requests the mock saw.
pub async fn codex_writes_a_file(
    codex: &std::path::Path,
    mock: &super::Mock,
    config: String,
    key: (&'static str, String),
) -> (String, serde_json::Value) {
    mock.reset().await;
    mock.fault(serde_json::json!({"tool": "exec_command",
        "tool_input": {"cmd": "echo gateway-ok > hello.txt && cat hello.txt"}}))
        .await;
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("config.toml"), &config).unwrap();
    let (codex, dir, home_dir) = (
        codex.to_owned(),
        project.path().to_owned(),
        home.path().to_owned(),
    );
    let out = actix_web::rt::task::spawn_blocking(move || {
        let child = Command::new(codex)
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &home_dir)
            .env("CODEX_HOME", &home_dir)
            .env(key.0, key.1)
            .args([
                "exec",
                "--skip-git-repo-check",
                "--dangerously-bypass-approvals-and-sandbox",
                "Create hello.txt",
            ])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run Codex");
        super::wait_at_most(child, std::time::Duration::from_secs(120))
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let (_, requests) =
        super::get_json(&format!("{}/_mock/requests?limit=50", mock.base), None).await;
    assert!(out.status.success(), "{config}\n{stdout}\n{stderr}");
    let written = std::fs::read_to_string(project.path().join("hello.txt"));
    assert_eq!(
        written.ok().as_deref(),
        Some("gateway-ok\n"),
        "the tool never ran: {config}\n{stdout}\n{stderr}\n{}",
        requests.to_string().chars().take(3000).collect::<String>()
    );
    assert!(stdout.contains("tok0"), "the final answer: {stdout}");
    assert!(
        requests.to_string().contains("gateway-ok"),
        "the tool output never came back: {config}"
    );
    (stderr, requests)
}
