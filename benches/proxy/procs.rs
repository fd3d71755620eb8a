//! Starting `mock-upstream`, `gateway-zero` and nginx, reading their RSS, and admin calls.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const GATEWAY_BIN: &str = env!("CARGO_BIN_EXE_gateway-zero");
pub const MOCK_BIN: &str = env!("CARGO_BIN_EXE_mock-upstream");
pub const ADMIN: &str = "gz-bench-admin-token-0123456789";

pub struct Proc {
    pub child: Child,
    pub addr: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_line(child: &mut Child, out: &Arc<Mutex<String>>, marker: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        {
            let text = out.lock().unwrap();
            if let Some(at) = text.find(marker) {
                let rest = &text[at + marker.len()..];
                return rest
                    .lines()
                    .next()
                    .unwrap()
                    .trim()
                    .trim_start_matches("http://")
                    .to_string();
            }
        }
        if let Ok(Some(s)) = child.try_wait() {
            panic!("exited with {s}: {}", out.lock().unwrap());
        }
        assert!(Instant::now() < deadline, "timeout waiting for {marker}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn drain<R: std::io::Read + Send + 'static>(r: R, sink: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            let mut s = sink.lock().unwrap();
            if s.len() < 1_000_000 {
                s.push_str(&line);
                s.push('\n');
            }
        }
    });
}

pub fn start_mock() -> Proc {
    let mut child = Command::new(MOCK_BIN)
        .args(["--port", "0", "--workers", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = Arc::new(Mutex::new(String::new()));
    drain(child.stdout.take().unwrap(), out.clone());
    let addr = wait_line(&mut child, &out, "listening on ");
    Proc { child, addr }
}

/// Starts the gateway; returns it and how long it took until it listened.
pub fn start_gateway(dir: &std::path::Path, extra: &[(&str, &str)]) -> (Proc, Duration) {
    // BENCH_GATEWAY_BIN measures another build (an older commit's, for before/after).
    let bin = std::env::var("BENCH_GATEWAY_BIN").unwrap_or_else(|_| GATEWAY_BIN.to_string());
    start_gateway_bin(&bin, dir, extra)
}

/// Starts the gateway binary `bin`.
pub fn start_gateway_bin(
    bin: &str,
    dir: &std::path::Path,
    extra: &[(&str, &str)],
) -> (Proc, Duration) {
    let started = Instant::now();
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir)
        .env(
            "GATEWAY__DATABASE__URL",
            format!("sqlite://{}/gateway.db?mode=rwc", dir.display()),
        )
        .env("GATEWAY__DATA_DIR", dir.join("data"))
        .env("GATEWAY__AUTH__ADMIN_KEY_PATH", dir.join("data/admin.key"))
        .env("GATEWAY__SECURITY__MASTER_KEY", master_key_b64())
        .env("GATEWAY__SERVER__PORT", "0")
        .env("GATEWAY__AUTH__BOOTSTRAP_ADMIN_TOKEN", ADMIN)
        .env("RUST_LOG", "warn,gateway_zero::server=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let out = Arc::new(Mutex::new(String::new()));
    drain(child.stderr.take().unwrap(), out.clone());
    let addr = wait_line(&mut child, &out, "listening on ");
    (Proc { child, addr }, started.elapsed())
}

pub fn master_key_b64() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode([7u8; 32])
}

pub fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Runs a bench on one thread (the load generator's), with `BENCH_SECS` (default 5) as the
/// length of each timed phase.
pub fn run_local<F: std::future::Future>(run: impl FnOnce(f64) -> F) -> F::Output {
    let secs: f64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&rt, run(secs))
}

/// One admin API call with the bench's admin token; its body (panics on an error status).
pub async fn admin(addr: &str, method: &str, path: &str, body: &str) -> String {
    let a = crate::http::call_once(addr, &crate::http::request(method, path, ADMIN, body)).await;
    let text = String::from_utf8_lossy(&a.body).to_string();
    assert!(a.status < 300, "{method} {path}: {} {text}", a.status);
    text
}

/// An nginx process, stopped when dropped.
pub struct Nginx {
    pub child: Child,
    pub addr: String,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// nginx with the configuration `conf` (written into `prefix`), once it listens on `port`.
pub fn start_nginx(prefix: &std::path::Path, conf: &str, port: u16) -> Nginx {
    std::fs::create_dir_all(prefix.join("logs")).unwrap();
    let conf_path = prefix.join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let child = Command::new("nginx")
        .args(["-c", &conf_path.display().to_string()])
        .args(["-p", &prefix.display().to_string()])
        .args(["-g", "daemon off;"])
        .spawn()
        .expect("nginx on the PATH");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nginx did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    Nginx {
        child,
        addr: format!("127.0.0.1:{port}"),
    }
}

/// A provider `mock` at `upstream` serving gpt-4o-mini with two keys, and a budgeted
/// token (so calls go through accounting); the token. With `team`, the token has a daily
/// budget period and is in a team with a monthly money budget and a concurrency cap (so
/// every call is admitted and settled on two accounts).
pub async fn provision_with(gw: &str, mock: &str, team: bool) -> String {
    if !team {
        return provision(gw, mock).await;
    }
    // The provider and its keys (and a plain token, unused here).
    provision(gw, mock).await;
    let created = admin(
        gw,
        "POST",
        "/admin/teams",
        r#"{"name":"bench-team","max_amount":1000000,"budget_period":"monthly","max_parallel":100000}"#,
    )
    .await;
    let team: serde_json::Value = serde_json::from_str(&created).unwrap();
    let created = admin(
        gw,
        "POST",
        "/admin/tokens",
        &format!(
            r#"{{"name":"bench-in-team","max_amount":1000000,"budget_period":"daily","team_id":{}}}"#,
            team["id"]
        ),
    )
    .await;
    let v: serde_json::Value = serde_json::from_str(&created).unwrap();
    v["token"].as_str().unwrap().to_string()
}

/// A provider `mock` at `upstream` serving gpt-4o-mini with two keys, and a budgeted
/// token (so calls go through accounting); the token.
pub async fn provision(gw: &str, mock: &str) -> String {
    admin(gw, "POST", "/providers", &format!(
        r#"{{"name":"mock","api_type":"openai","base_url":"http://{mock}/v1","models":["gpt-4o-mini"]}}"#
    )).await;
    admin(
        gw,
        "POST",
        "/providers/mock/keys",
        r#"{"key":"sk-bench-key-000000000001"}"#,
    )
    .await;
    admin(
        gw,
        "POST",
        "/providers/mock/keys",
        r#"{"key":"sk-bench-key-000000000002"}"#,
    )
    .await;
    let created = admin(
        gw,
        "POST",
        "/admin/tokens",
        r#"{"name":"bench","max_amount":1000000}"#,
    )
    .await;
    let v: serde_json::Value = serde_json::from_str(&created).unwrap();
    v["token"].as_str().unwrap().to_string()
}
