//! Starts the real binaries (`mock-upstream`, `gateway-zero`) on loopback ports and talks
//! HTTP to them, on SQLite and — when `GATEWAY_TEST_DATABASE_URL` is set — on Postgres.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use awc::http::StatusCode;
use base64::Engine;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{json, Value};

pub const GATEWAY_BIN: &str = env!("CARGO_BIN_EXE_gateway-zero");
pub const MOCK_BIN: &str = env!("CARGO_BIN_EXE_mock-upstream");

/// Where a gateway under test keeps its data.
pub struct Backend {
    pub label: &'static str,
    pub url: String,
    admin_url: Option<String>,
    db_name: Option<String>,
    pub dir: tempfile::TempDir,
}

impl Backend {
    pub fn sqlite() -> Backend {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/gateway.db?mode=rwc", dir.path().display());
        Backend {
            label: "sqlite",
            url,
            admin_url: None,
            db_name: None,
            dir,
        }
    }

    /// A fresh database on the Postgres named by `GATEWAY_TEST_DATABASE_URL`.
    pub async fn postgres(base: &str) -> Backend {
        let name = format!("gz_test_{:016x}", rand::random::<u64>());
        let admin = Database::connect(base).await.unwrap_or_else(|e| {
            panic!("GATEWAY_TEST_DATABASE_URL is set but Postgres is unreachable: {e}")
        });
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        admin.close().await.ok();
        let (prefix, _) = base.rsplit_once('/').expect("database URL has a path");
        Backend {
            label: "postgres",
            url: format!("{prefix}/{name}"),
            admin_url: Some(base.to_string()),
            db_name: Some(name),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// SQLite always; Postgres too when configured.
    pub async fn all() -> Vec<Backend> {
        let mut out = vec![Backend::sqlite()];
        if let Ok(url) = std::env::var("GATEWAY_TEST_DATABASE_URL") {
            if !url.is_empty() {
                out.push(Backend::postgres(&url).await);
            }
        }
        out
    }

    pub async fn connect(&self) -> DatabaseConnection {
        Database::connect(&self.url).await.expect("connect test db")
    }

    pub async fn drop_database(&self) {
        if let (Some(admin), Some(name)) = (&self.admin_url, &self.db_name) {
            if let Ok(conn) = Database::connect(admin).await {
                let _ = conn
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            }
        }
    }
}

/// Reads a child's output lines into a shared buffer.
fn drain<R: std::io::Read + Send + 'static>(reader: R, sink: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            let mut s = sink.lock().unwrap();
            s.push_str(&line);
            s.push('\n');
        }
    });
}

fn wait_for_line(out: &Arc<Mutex<String>>, marker: &str, child: &mut Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        {
            let text = out.lock().unwrap();
            if let Some(at) = text.find(marker) {
                let rest = &text[at + marker.len()..];
                return rest.lines().next().unwrap_or("").trim().to_string();
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "process exited with {status} before '{marker}':\n{}",
                out.lock().unwrap()
            );
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for '{marker}'"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub struct Mock {
    child: Child,
    pub base: String,
}

impl Mock {
    pub fn start() -> Mock {
        Mock::start_with(&[])
    }

    /// A mock with extra arguments (`--framing close`).
    pub fn start_with(args: &[&str]) -> Mock {
        let mut child = Command::new(MOCK_BIN)
            .args(["--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mock-upstream");
        let out = Arc::new(Mutex::new(String::new()));
        drain(child.stdout.take().unwrap(), out.clone());
        let base = wait_for_line(&out, "listening on ", &mut child);
        Mock { child, base }
    }

    /// The base URL a provider should be given (`…/v1`).
    pub fn v1(&self) -> String {
        format!("{}/v1", self.base)
    }

    pub async fn stats(&self) -> Value {
        get_json(&format!("{}/_mock/stats", self.base), None)
            .await
            .1
    }

    pub async fn calls_for(&self, key: &str) -> u64 {
        self.stats().await["by_key"][key].as_u64().unwrap_or(0)
    }

    pub async fn fault(&self, fault: Value) {
        let (status, _) =
            send_json("POST", &format!("{}/_mock/faults", self.base), None, &fault).await;
        assert_eq!(status, 200);
    }

    pub async fn reset(&self) {
        send_json(
            "POST",
            &format!("{}/_mock/reset", self.base),
            None,
            &json!({}),
        )
        .await;
    }

    pub async fn last_request(&self) -> Value {
        let (_, v) = get_json(&format!("{}/_mock/requests?limit=1", self.base), None).await;
        v["data"][0].clone()
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A mock upstream, and a gateway on `backend` with one provider `mock` serving `models`
/// through `keys`.
pub async fn gateway_with_mock(
    backend: &Backend,
    extra: &[(&str, &str)],
    models: Value,
    keys: &[&str],
) -> (Mock, Gateway) {
    let mock = Mock::start();
    let gw = Gateway::start(backend, extra);
    gw.add_provider("mock", &mock, models, keys).await;
    (mock, gw)
}

pub struct Gateway {
    child: Option<Child>,
    pub base: String,
    pub admin: String,
    pub output: Arc<Mutex<String>>,
    pub env: Vec<(String, String)>,
}

pub fn master_key() -> String {
    base64::engine::general_purpose::STANDARD.encode([42u8; 32])
}

impl Gateway {
    /// The environment a gateway on `backend` runs with, plus `extra`.
    pub fn env_for(backend: &Backend, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let dir = backend.dir.path();
        let mut env: Vec<(String, String)> = vec![
            ("GATEWAY__DATABASE__URL".into(), backend.url.clone()),
            (
                "GATEWAY__DATA_DIR".into(),
                dir.join("data").display().to_string(),
            ),
            (
                "GATEWAY__AUTH__ADMIN_KEY_PATH".into(),
                dir.join("data/admin_ed25519.key").display().to_string(),
            ),
            ("GATEWAY__SECURITY__MASTER_KEY".into(), master_key()),
            ("GATEWAY__SERVER__PORT".into(), "0".into()),
            ("GATEWAY__SERVER__WORKERS".into(), "2".into()),
            ("GATEWAY__ACCOUNTING__FLUSH_INTERVAL_MS".into(), "50".into()),
            ("GATEWAY__CLUSTER__SYNC_INTERVAL_MS".into(), "200".into()),
            ("RUST_LOG".into(), "info".into()),
        ];
        for (k, v) in extra {
            env.retain(|(key, _)| key != k);
            env.push((k.to_string(), v.to_string()));
        }
        env
    }

    pub fn start(backend: &Backend, extra: &[(&str, &str)]) -> Gateway {
        let admin = format!("gz-test-admin-{:016x}", rand::random::<u64>());
        let mut env = Gateway::env_for(backend, extra);
        env.push(("GATEWAY__AUTH__BOOTSTRAP_ADMIN_TOKEN".into(), admin.clone()));
        Gateway::start_with_env(backend, env, admin)
    }

    pub fn start_with_env(backend: &Backend, env: Vec<(String, String)>, admin: String) -> Gateway {
        let mut child = Command::new(GATEWAY_BIN)
            .current_dir(backend.dir.path())
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start gateway");
        let output = Arc::new(Mutex::new(String::new()));
        drain(child.stdout.take().unwrap(), output.clone());
        drain(child.stderr.take().unwrap(), output.clone());
        let base = wait_for_line(&output, "listening on ", &mut child);
        Gateway {
            child: Some(child),
            base,
            admin,
            output,
            env,
        }
    }

    /// Runs `gateway-zero ARGS` against the same database; returns (exit ok, stdout, stderr).
    pub fn cli(&self, backend: &Backend, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(GATEWAY_BIN)
            .current_dir(backend.dir.path())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .args(args)
            .output()
            .expect("run cli");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    }

    /// Creates a token through the CLI and returns its plaintext.
    pub fn token(&self, backend: &Backend, args: &[&str]) -> String {
        let mut all = vec!["token", "create"];
        all.extend_from_slice(args);
        let (ok, stdout, stderr) = self.cli(backend, &all);
        assert!(ok, "token create failed: {stderr}");
        let token = stdout.trim().to_string();
        assert!(
            token.starts_with("gz-") && !token.contains('\n'),
            "{stdout:?}"
        );
        token
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        send_json("POST", &self.url(path), Some(token), body).await
    }

    /// A chat call whose answer is read as text (streams: the whole SSE body).
    pub async fn chat_text(&self, token: &str, body: &Value) -> (StatusCode, String) {
        let (status, raw) = send_raw(
            "POST",
            &self.url("/v1/chat/completions"),
            Some(token),
            Some("application/json"),
            serde_json::to_vec(body).unwrap(),
        )
        .await;
        (status, String::from_utf8(raw).expect("UTF-8 answer"))
    }

    /// Starts a streaming call, reads its first chunk, then hangs up.
    pub async fn abandon_stream(&self, token: &str, body: &Value) {
        use futures::StreamExt;
        let mut resp = client()
            .post(self.url("/v1/chat/completions"))
            .insert_header(("authorization", format!("Bearer {token}")))
            .send_json(body)
            .await
            .unwrap();
        let first = resp.next().await.unwrap().unwrap();
        assert!(!first.is_empty());
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        get_json(&self.url(path), Some(token)).await
    }

    pub async fn admin_send(&self, method: &str, path: &str, body: &Value) -> (StatusCode, Value) {
        send_json(method, &self.url(path), Some(&self.admin), body).await
    }

    /// Creates an OpenAI-type provider pointing at `mock` with the given keys; returns the
    /// key ids.
    pub async fn add_provider(
        &self,
        name: &str,
        mock: &Mock,
        models: Value,
        keys: &[&str],
    ) -> Vec<i64> {
        self.add_typed_provider(name, "openai", &mock.v1(), models, keys)
            .await
    }

    /// Creates a provider of any type with the given keys; returns the key ids.
    pub async fn add_typed_provider(
        &self,
        name: &str,
        api_type: &str,
        base_url: &str,
        models: Value,
        keys: &[&str],
    ) -> Vec<i64> {
        let (status, body) = self
            .admin_send(
                "POST",
                "/providers",
                &json!({"name": name, "api_type": api_type, "base_url": base_url, "models": models}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let mut ids = Vec::new();
        for key in keys {
            let (status, body) = self
                .admin_send(
                    "POST",
                    &format!("/providers/{name}/keys"),
                    &json!({"key": key}),
                )
                .await;
            assert_eq!(status, 201, "{body}");
            ids.push(body["id"].as_i64().unwrap());
        }
        ids
    }

    /// Stops the process at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(40);
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    assert!(status.success(), "gateway exited with {status}");
                    return;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    panic!("gateway did not stop after SIGTERM");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    pub fn logs(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// The process's peak resident memory so far (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let pid = self.child.as_ref().expect("running").id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn client() -> awc::Client {
    awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish()
}

pub async fn send_raw(
    method: &str,
    url: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Vec<u8>) {
    let method = awc::http::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = client().request(method, url);
    if let Some(t) = token {
        req = req.insert_header(("authorization", format!("Bearer {t}")));
    }
    if let Some(ct) = content_type {
        req = req.insert_header(("content-type", ct));
    }
    let mut resp = req.send_body(body).await.expect("request failed");
    let status = resp.status();
    let bytes = resp
        .body()
        .limit(64 * 1024 * 1024)
        .await
        .expect("read body");
    (status, bytes.to_vec())
}

pub async fn send_json(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: &Value,
) -> (StatusCode, Value) {
    let (status, bytes) = send_raw(
        method,
        url,
        token,
        Some("application/json"),
        serde_json::to_vec(body).unwrap(),
    )
    .await;
    (status, parse(&bytes))
}

pub async fn get_json(url: &str, token: Option<&str>) -> (StatusCode, Value) {
    let (status, bytes) = send_raw("GET", url, token, None, Vec::new()).await;
    (status, parse(&bytes))
}

fn parse(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).to_string()))
}

/// A minimal chat body.
pub fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "Hello there, gateway"}]})
}

/// Splits an SSE body into its `data:` payloads.
pub fn sse_data(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(str::to_string)
        .collect()
}

/// The text content of an OpenAI event stream, as a client would assemble it.
pub fn streamed_content(text: &str) -> String {
    sse_data(text)
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(String::from)
        })
        .collect()
}

/// Polls `check` until it returns Some or `within` passes.
pub async fn eventually<T, F, Fut>(within: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        actix_web::rt::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Asserts the OpenAI error shape, status, type and (optionally) code.
pub fn assert_error(status: StatusCode, body: &Value, want: u16, kind: &str, code: Option<&str>) {
    assert_eq!(status.as_u16(), want, "{body}");
    let err = &body["error"];
    assert!(err["message"].is_string(), "message missing: {body}");
    assert_eq!(err["type"], kind, "{body}");
    assert!(err.get("param").is_some(), "param missing: {body}");
    if let Some(code) = code {
        assert_eq!(err["code"], code, "{body}");
    }
}

/// This machine's clock, Unix ms.
pub fn unix_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}
