//! Claude Code's gateway protocol against the real binary (the newest pin,
//! tests/claude_code_latest): model discovery, `Retry-After`, and pings that keep a silent
//! translated stream inside its idle watchdog. The HTTP shapes themselves are tested in
//! `gateway_protocol`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;

const PIN: &str = "tests/claude_code_latest";

/// Runs the newest Claude Code with `extra` env and `args`, in fresh directories; its
/// output and its home (for the files it wrote there).
async fn run(
    gw: &Gateway,
    token: &str,
    extra: &'static [(&'static str, &'static str)],
    args: &'static [&'static str],
) -> Option<(std::process::Output, tempfile::TempDir)> {
    let claude = claude_code(PIN)?;
    let home = tempfile::tempdir().unwrap();
    let (base, token, home_dir) = (gw.base.clone(), token.to_string(), home.path().to_owned());
    let out = actix_web::rt::task::spawn_blocking(move || {
        let project = tempfile::tempdir().unwrap();
        run_claude_code(
            &claude,
            project.path(),
            &home_dir,
            (&base, &token),
            extra,
            args,
        )
    })
    .await
    .unwrap();
    Some((out, home))
}

fn assert_succeeded(out: &std::process::Output, gw: &Gateway) {
    assert!(
        out.status.success(),
        "Claude Code failed: {}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        gw.logs()
    );
}

/// Every file under `dir` named `name`.
fn find(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(find(&path, name));
        } else if path.file_name().is_some_and(|n| n == name) {
            found.push(path);
        }
    }
    found
}

/// With gateway model discovery on, Claude Code asks `GET /v1/models?limit=1000` with its
/// key and `anthropic-version`, and caches the Claude models the token may use — names a
/// provider serves by pattern, taken from the price book.
#[actix_web::test]
async fn claude_code_discovers_the_models_of_its_token() {
    let backend = Backend::sqlite();
    let mock = Mock::start();
    let gw = Gateway::start(&backend, &[]);
    add_claude(&gw, &mock, "sk-ant-cc-protocol-01").await;
    for model in ["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"] {
        price(&gw, model, Some(8192)).await;
    }
    let (_, token) = token_with(
        &gw,
        json!({"allowed_models": ["claude-sonnet-*", "claude-haiku-*"]}),
    )
    .await;
    let Some((out, home)) = run(
        &gw,
        &token,
        &[("CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY", "1")],
        &["Say hello", "--model", "claude-sonnet-4-5"],
    )
    .await
    else {
        return;
    };
    assert_succeeded(&out, &gw);
    let cached = find(home.path(), "gateway-models.json");
    assert_eq!(cached.len(), 1, "no discovery cache in {:?}", home.path());
    let cache: Value = serde_json::from_slice(&std::fs::read(&cached[0]).unwrap()).unwrap();
    let ids: Vec<&str> = cache["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert!(
        ids.contains(&"claude-sonnet-4-5") && ids.contains(&"claude-haiku-4-5"),
        "{cache}"
    );
    assert!(
        !ids.contains(&"claude-opus-4-1"),
        "a model the token may not use: {cache}"
    );
    assert_eq!(cache["baseUrl"], json!(gw.base));
}

/// A call refused for concurrency carries `Retry-After: 1`; Claude Code waits that long
/// before each retry (its own first backoff is about half a second) and finishes once the
/// slot is free.
#[actix_web::test]
async fn claude_code_waits_as_long_as_retry_after_says() {
    let backend = Backend::sqlite();
    let mock = Mock::start();
    let gw = Gateway::start(&backend, &[]);
    add_claude(&gw, &mock, "sk-ant-cc-protocol-02").await;
    let (id, token) = token_with(&gw, json!({"max_parallel": 1})).await;
    // The test's own slow stream holds the token's one slot for about four seconds.
    mock.fault(json!({"chunk_delay_ms": 400, "times": 1})).await;
    let (gw_url, holder) = (gw.url("/v1/messages"), token.clone());
    let held = actix_web::rt::spawn(async move {
        let mut resp = client()
            .post(gw_url)
            .insert_header(("x-api-key", holder.as_str()))
            .insert_header(("anthropic-version", "2023-06-01"))
            .timeout(Duration::from_secs(60))
            .send_json(
                &json!({"model": "claude-sonnet-4-5", "max_tokens": 8, "stream": true,
                               "metadata": {"user_id": "holder"},
                               "messages": [{"role": "user", "content": "hold"}]}),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.body().limit(1 << 20).await.unwrap();
    });
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let Some((out, _home)) = run(
        &gw,
        &token,
        &[],
        &["Say hello", "--model", "claude-sonnet-4-5"],
    )
    .await
    else {
        held.await.unwrap();
        return;
    };
    held.await.unwrap();
    assert_succeeded(&out, &gw);
    let db = backend.connect().await;
    let rows = eventually(Duration::from_secs(5), || async {
        let rows = rows(&db).await;
        let served = rows
            .iter()
            .filter(|r| r.token_id == Some(id) && r.status_code == 200);
        (served.count() >= 2).then_some(rows)
    })
    .await
    .unwrap();
    // Claude Code's calls, in the order they came (the holder's own is told by its user).
    let mut times: Vec<(i64, i32)> = rows
        .iter()
        .filter(|r| r.token_id == Some(id) && r.end_user.as_deref() != Some("holder"))
        .map(|r| (r.created_at, r.status_code))
        .collect();
    times.sort();
    let refused: Vec<usize> = (0..times.len()).filter(|&i| times[i].1 == 429).collect();
    assert!(
        !refused.is_empty(),
        "Claude Code was never refused: {times:?}"
    );
    for i in refused {
        if let Some(next) = times.get(i + 1) {
            let gap = next.0 - times[i].0;
            assert!(
                gap >= 950,
                "retried {gap} ms after a Retry-After of 1 s: {times:?}"
            );
        }
    }
}

/// A translated stream whose upstream falls silent for longer than Claude Code's idle
/// watchdog (set to its 10 s minimum) stays open: the gateway's pings (every 2 s here) keep
/// it alive, so the one call completes — without them Claude Code aborts it and retries.
#[actix_web::test]
async fn pings_keep_claude_code_on_a_silent_translated_stream() {
    let backend = Backend::sqlite();
    let (mock, gw) = gateway_with_mock(
        &backend,
        &[("GATEWAY__UPSTREAM__STREAM_PING_SECS", "2")],
        json!(["gpt-4o-mini"]),
        &["sk-cc-protocol-03"],
    )
    .await;
    let (id, token) = token_with(&gw, json!({})).await;
    // The OpenAI-type upstream says one thing, then nothing for 12 s.
    mock.fault(json!({"stall_ms": 12_000, "times": 1})).await;
    let Some((out, _home)) = run(
        &gw,
        &token,
        &[
            ("CLAUDE_BYTE_STREAM_IDLE_TIMEOUT_MS", "10000"),
            ("CLAUDE_STREAM_IDLE_TIMEOUT_MS", "10000"),
        ],
        &["Say hello", "--model", "gpt-4o-mini"],
    )
    .await
    else {
        return;
    };
    assert_succeeded(&out, &gw);
    assert!(String::from_utf8_lossy(&out.stdout).contains("tok0"));
    let db = backend.connect().await;
    let rows = rows_of(&db, id, 1).await;
    assert!(
        rows.iter().all(|r| r.status_code == 200),
        "a call was cut or refused: {rows:?}"
    );
    assert_eq!(
        mock.stats().await["total"],
        rows.len(),
        "Claude Code called again: its watchdog fired"
    );
}
