//! The `mock-upstream` binary on a loopback port.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::*;

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
