//! The `gateway-zero` binary on a loopback port, with its admin API as helpers.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use awc::http::StatusCode;
use base64::Engine;
use serde_json::{json, Value};

use super::*;

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
