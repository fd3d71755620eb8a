//! `cargo bench --bench proxy`: the gateway's overhead, measured side by side with the
//! upstream alone. Starts `mock-upstream` and `gateway-zero` (release build, SQLite,
//! accounting and request logging on) on loopback and drives them from this process with a
//! small HTTP/1.1 load generator (its own thread, not the gateway's), then prints a table.
//!
//! `BENCH_SECS` (default 5) sets the length of each timed phase.

use std::cell::{Cell, RefCell};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const GATEWAY_BIN: &str = env!("CARGO_BIN_EXE_gateway-zero");
const MOCK_BIN: &str = env!("CARGO_BIN_EXE_mock-upstream");
const ADMIN: &str = "gz-bench-admin-token-0123456789";

// ---------------------------------------------------------------- processes

struct Proc {
    child: Child,
    addr: String,
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

fn start_mock() -> Proc {
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
fn start_gateway(dir: &std::path::Path, extra: &[(&str, &str)]) -> (Proc, Duration) {
    let started = Instant::now();
    let mut cmd = Command::new(GATEWAY_BIN);
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

fn master_key_b64() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode([7u8; 32])
}

fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

// ---------------------------------------------------------------- a tiny HTTP/1.1 client

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// What one response looked like.
struct Answer {
    status: u16,
    first_chunk: Option<Instant>,
    body: Vec<u8>,
}

impl Conn {
    async fn open(addr: &str) -> Conn {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).unwrap();
        Conn {
            stream,
            buf: Vec::with_capacity(16 * 1024),
        }
    }

    async fn fill(&mut self) -> bool {
        let mut tmp = [0u8; 16 * 1024];
        match self.stream.read(&mut tmp).await {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                true
            }
        }
    }

    /// Sends `req` and reads one response (Content-Length or chunked).
    async fn call(&mut self, req: &[u8], keep_body: bool) -> Option<Answer> {
        self.stream.write_all(req).await.ok()?;
        let head_end = loop {
            if let Some(p) = find(&self.buf, b"\r\n\r\n") {
                break p + 4;
            }
            if !self.fill().await {
                return None;
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).to_ascii_lowercase();
        let status: u16 = head.get(9..12)?.parse().ok()?;
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok());
        self.buf.drain(..head_end);
        let mut body = Vec::new();
        let mut first_chunk = None;
        if let Some(len) = length {
            while self.buf.len() < len {
                if !self.fill().await {
                    return None;
                }
            }
            first_chunk = Some(Instant::now());
            if keep_body {
                body.extend_from_slice(&self.buf[..len]);
            }
            self.buf.drain(..len);
        } else {
            // chunked
            loop {
                let line_end = loop {
                    if let Some(p) = find(&self.buf, b"\r\n") {
                        break p;
                    }
                    if !self.fill().await {
                        return None;
                    }
                };
                let size = usize::from_str_radix(
                    String::from_utf8_lossy(&self.buf[..line_end]).trim(),
                    16,
                )
                .ok()?;
                while self.buf.len() < line_end + 2 + size + 2 {
                    if !self.fill().await {
                        return None;
                    }
                }
                if size > 0 && first_chunk.is_none() {
                    first_chunk = Some(Instant::now());
                }
                if keep_body {
                    body.extend_from_slice(&self.buf[line_end + 2..line_end + 2 + size]);
                }
                self.buf.drain(..line_end + 2 + size + 2);
                if size == 0 {
                    break;
                }
            }
        }
        Some(Answer {
            status,
            first_chunk,
            body,
        })
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn request(method: &str, path: &str, token: &str, body: &str) -> Vec<u8> {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn chat_request(token: &str, model: &str, max_tokens: u32, stream: bool, extra: &str) -> Vec<u8> {
    let body = format!(
        r#"{{"model":"{model}","messages":[{{"role":"user","content":"Hello, how are you today?"}}],"max_tokens":{max_tokens},"stream":{stream}{extra}}}"#
    );
    request("POST", "/v1/chat/completions", token, &body)
}

async fn call_once(addr: &str, req: &[u8]) -> Answer {
    let mut c = Conn::open(addr).await;
    c.call(req, true).await.expect("call failed")
}

// ---------------------------------------------------------------- load shapes

/// Closed loop: `conns` connections calling back to back for `secs`. Returns calls/s.
async fn throughput(addr: &str, req: Rc<Vec<u8>>, conns: usize, secs: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let done = Rc::new(Cell::new(0u64));
    let errors = Rc::new(Cell::new(0u64));
    let tasks: Vec<_> = (0..conns)
        .map(|_| {
            let (req, done, errors, addr) =
                (req.clone(), done.clone(), errors.clone(), addr.to_string());
            tokio::task::spawn_local(async move {
                let mut c = Conn::open(&addr).await;
                while Instant::now() < deadline {
                    match c.call(&req, false).await {
                        Some(a) if a.status == 200 => done.set(done.get() + 1),
                        _ => {
                            errors.set(errors.get() + 1);
                            c = Conn::open(&addr).await;
                        }
                    }
                }
            })
        })
        .collect();
    let start = Instant::now();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        errors.get(),
        0,
        "errors during throughput run against {addr}"
    );
    done.get() as f64 / start.elapsed().as_secs_f64()
}

/// Open loop at `rate` calls/s for `secs`, spread over 128 connections (each sends about
/// every 128 ms, far longer than a call takes, so a slow call does not delay the next one's
/// start). Latency is from the moment a call is written. Returns (p50, p99) in ms.
async fn latency_at_rate(addr: &str, req: Rc<Vec<u8>>, rate: u64, secs: f64) -> (f64, f64) {
    let total = (rate as f64 * secs) as u64;
    let next = Rc::new(Cell::new(0u64));
    let samples = Rc::new(RefCell::new(Vec::with_capacity(total as usize)));
    let start = Instant::now() + Duration::from_millis(50);
    let workers = 128;
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let (req, next, samples, addr) =
                (req.clone(), next.clone(), samples.clone(), addr.to_string());
            tokio::task::spawn_local(async move {
                let mut c = Conn::open(&addr).await;
                loop {
                    let i = next.get();
                    if i >= total {
                        break;
                    }
                    next.set(i + 1);
                    let at = start + Duration::from_nanos(i * 1_000_000_000 / rate);
                    tokio::time::sleep_until(at.into()).await;
                    let sent = Instant::now();
                    let a = c.call(&req, false).await.expect("call");
                    assert_eq!(a.status, 200);
                    samples.borrow_mut().push(sent.elapsed());
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let mut s = samples.borrow().clone();
    s.sort();
    let pct = |p: f64| s[((s.len() as f64 * p) as usize).min(s.len() - 1)].as_secs_f64() * 1000.0;
    (pct(0.50), pct(0.99))
}

/// Sequential streams: (median time to first chunk, median total time) in ms.
async fn stream_times(addr: &str, req: &[u8], runs: usize) -> (f64, f64, usize) {
    let mut first = Vec::new();
    let mut total = Vec::new();
    let mut chunks = 0;
    let mut c = Conn::open(addr).await;
    for _ in 0..runs {
        let t0 = Instant::now();
        let a = c.call(req, true).await.expect("stream");
        assert_eq!(a.status, 200);
        first.push(a.first_chunk.unwrap().duration_since(t0).as_secs_f64() * 1000.0);
        total.push(t0.elapsed().as_secs_f64() * 1000.0);
        chunks = String::from_utf8_lossy(&a.body).matches("data: ").count();
    }
    first.sort_by(f64::total_cmp);
    total.sort_by(f64::total_cmp);
    (first[runs / 2], total[runs / 2], chunks)
}

/// Opens `n` slow streams at once, waits until each has its first chunk, then returns the
/// gateway's RSS (MB) while they are all open.
async fn rss_with_open_streams(addr: &str, token: &str, n: usize, pid: u32) -> f64 {
    let req = Rc::new(chat_request(
        token,
        "gpt-4o-mini",
        40,
        true,
        r#","mock":{"chunk_delay_ms":150}"#,
    ));
    let started = Rc::new(Cell::new(0usize));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (req, started, addr) = (req.clone(), started.clone(), addr.to_string());
            tokio::task::spawn_local(async move {
                let mut c = Conn::open(&addr).await;
                c.stream.write_all(&req).await.unwrap();
                // headers and the first chunk
                while find(&c.buf, b"data: ").is_none() {
                    assert!(c.fill().await, "stream closed early");
                }
                started.set(started.get() + 1);
                while c.fill().await {
                    if find(&c.buf, b"[DONE]").is_some() {
                        break;
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while started.get() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} streams started",
            started.get()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rss = rss_mb(pid);
    for t in tasks {
        t.await.unwrap();
    }
    rss
}

/// Alternates closed-loop runs against `a` and `b` for `rounds` rounds (so a noisy spell on
/// this shared machine hits both) and returns the median calls/s of each.
async fn throughput_ab(
    a: (&str, Rc<Vec<u8>>),
    b: (&str, Rc<Vec<u8>>),
    secs: f64,
    rounds: usize,
) -> (f64, f64) {
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        xs.push(throughput(a.0, a.1.clone(), 64, secs).await);
        ys.push(throughput(b.0, b.1.clone(), 64, secs).await);
    }
    xs.sort_by(f64::total_cmp);
    ys.sort_by(f64::total_cmp);
    (xs[rounds / 2], ys[rounds / 2])
}

// ---------------------------------------------------------------- set-up through the admin API

async fn admin(addr: &str, method: &str, path: &str, body: &str) -> String {
    let a = call_once(addr, &request(method, path, ADMIN, body)).await;
    let text = String::from_utf8_lossy(&a.body).to_string();
    assert!(a.status < 300, "{method} {path}: {} {text}", a.status);
    text
}

async fn provision(gw: &str, mock: &str) -> String {
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

/// Fills the database with 100,000 tokens, 1,000 providers and 10,000 keys.
async fn fill_large(dir: &std::path::Path, mock: &str) -> (String, String) {
    use entity::{provider, provider_key, token};
    use sea_orm::{ActiveValue::Set, Database, EntityTrait};
    let db = Database::connect(format!("sqlite://{}/gateway.db?mode=rwc", dir.display()))
        .await
        .unwrap();
    let master = gateway_zero::secrets::MasterKey::from_base64(&master_key_b64()).unwrap();
    let now = gateway_zero::time::now_ms();
    let providers: Vec<_> = (0..1000)
        .map(|i| provider::ActiveModel {
            name: Set(format!("p{i}")),
            api_type: Set("openai".into()),
            base_url: Set(format!("http://{mock}/v1")),
            models: Set(Some(format!(r#"["model-{i}","gpt-4o-mini"]"#))),
            weight: Set(1),
            enabled: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .collect();
    for chunk in providers.chunks(500) {
        provider::Entity::insert_many(chunk.to_vec())
            .exec(&db)
            .await
            .unwrap();
    }
    let keys: Vec<_> = (0..10_000)
        .map(|i| {
            let key = format!("sk-large-{i:08}");
            provider_key::ActiveModel {
                provider_id: Set(i / 10 + 1),
                key_ciphertext: Set(master.encrypt(&key)),
                masked_key: Set(gateway_zero::secrets::mask_key(&key)),
                key_fingerprint: Set(gateway_zero::secrets::sha256_hex(key.as_bytes())),
                description: Set(None),
                weight: Set(1),
                enabled: Set(true),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
        })
        .collect();
    for chunk in keys.chunks(1000) {
        provider_key::Entity::insert_many(chunk.to_vec())
            .exec(&db)
            .await
            .unwrap();
    }
    let mut last = String::new();
    for start in (0..100_000).step_by(1000) {
        let rows: Vec<_> = (start..start + 1000)
            .map(|i| {
                let plain = format!("gz-large-token-{i:08}");
                last = plain.clone();
                token::ActiveModel {
                    name: Set(format!("t{i}")),
                    token_hash: Set(gateway_zero::secrets::hash_token(&plain)),
                    token_prefix: Set(plain[..8].to_string()),
                    role: Set("client".into()),
                    enabled: Set(true),
                    prompt_tokens: Set(0),
                    completion_tokens: Set(0),
                    total_tokens: Set(0),
                    amount_spent_nano: Set(0),
                    request_count: Set(0),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                }
            })
            .collect();
        token::Entity::insert_many(rows).exec(&db).await.unwrap();
    }
    (last, "model-500".to_string())
}

// ---------------------------------------------------------------- the run

fn main() {
    let secs: f64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, run(secs));
}

struct Row(String, String, String, String);

async fn run(secs: f64) {
    let mut rows: Vec<Row> = Vec::new();
    let mock = start_mock();
    let dir = tempfile::tempdir().unwrap();
    let (gw, _) = start_gateway(dir.path(), &[]);
    let pid = gw.child.id();
    let token = provision(&gw.addr, &mock.addr).await;
    let plain = Rc::new(chat_request(&token, "gpt-4o-mini", 16, false, ""));
    // warm up both paths
    throughput(&mock.addr, plain.clone(), 16, 1.0).await;
    throughput(&gw.addr, plain.clone(), 16, 1.0).await;
    let rss_idle = rss_mb(pid);

    eprintln!("throughput at 64 connections ...");
    let (direct, through) = throughput_ab(
        (&mock.addr, plain.clone()),
        (&gw.addr, plain.clone()),
        secs / 2.0,
        5,
    )
    .await;
    rows.push(Row(
        "throughput, 64 connections (calls/s, median of 5)".into(),
        format!("{direct:.0}"),
        format!("{through:.0}"),
        format!("{:.0} % of direct (goal ≥ 50 %)", through / direct * 100.0),
    ));

    eprintln!("latency at 1,000 calls/s ...");
    let (d50, d99) = latency_at_rate(&mock.addr, plain.clone(), 1000, secs).await;
    let (g50, g99) = latency_at_rate(&gw.addr, plain.clone(), 1000, secs).await;
    rows.push(Row(
        "latency p50 at 1,000 calls/s (ms)".into(),
        format!("{d50:.3}"),
        format!("{g50:.3}"),
        format!("+{:.3} ms (goal ≤ 0.2)", g50 - d50),
    ));
    rows.push(Row(
        "latency p99 at 1,000 calls/s (ms)".into(),
        format!("{d99:.3}"),
        format!("{g99:.3}"),
        format!("+{:.3} ms (goal ≤ 1)", g99 - d99),
    ));

    eprintln!("streaming ...");
    let stream_req = chat_request(&token, "gpt-4o-mini", 200, true, "");
    let (df, dt, dchunks) = stream_times(&mock.addr, &stream_req, 50).await;
    let (gf, gt, gchunks) = stream_times(&gw.addr, &stream_req, 50).await;
    rows.push(Row(
        "stream: time to first chunk (ms, median)".into(),
        format!("{df:.3}"),
        format!("{gf:.3}"),
        format!("+{:.3} ms (goal ≤ 1)", gf - df),
    ));
    rows.push(Row(
        format!("stream: 200-token answer, total (ms, median; {dchunks}/{gchunks} events)"),
        format!("{dt:.3}"),
        format!("{gt:.3}"),
        format!("+{:.3} ms", gt - dt),
    ));

    eprintln!("1,000 open streams ...");
    let rss_streams = rss_with_open_streams(&gw.addr, &token, 1000, pid).await;
    rows.push(Row(
        "gateway RSS idle / 1,000 open streams (MB)".into(),
        "".into(),
        format!("{rss_idle:.1} / {rss_streams:.1}"),
        "goal ≤ 50 / ≤ 200".into(),
    ));
    drop(gw);

    eprintln!("accounting off ...");
    let dir_off = tempfile::tempdir().unwrap();
    let (gw_off, _) = start_gateway(dir_off.path(), &[("GATEWAY__ACCOUNTING__ENABLED", "false")]);
    let token_off = provision(&gw_off.addr, &mock.addr).await;
    let plain_off = Rc::new(chat_request(&token_off, "gpt-4o-mini", 16, false, ""));
    throughput(&gw_off.addr, plain_off.clone(), 16, 1.0).await;
    let dir_on = tempfile::tempdir().unwrap();
    let (gw_on, _) = start_gateway(dir_on.path(), &[]);
    let token_on = provision(&gw_on.addr, &mock.addr).await;
    let plain_on = Rc::new(chat_request(&token_on, "gpt-4o-mini", 16, false, ""));
    throughput(&gw_on.addr, plain_on.clone(), 16, 1.0).await;
    let (off, on) = throughput_ab(
        (&gw_off.addr, plain_off),
        (&gw_on.addr, plain_on),
        secs / 2.0,
        5,
    )
    .await;
    drop(gw_off);
    drop(gw_on);
    rows.push(Row(
        "gateway calls/s, accounting off / on (median of 5)".into(),
        "".into(),
        format!("{off:.0} / {on:.0}"),
        format!(
            "accounting costs {:.1} % (goal < 10 %)",
            (1.0 - on / off) * 100.0
        ),
    ));

    eprintln!("large database (100k tokens, 1k providers, 10k keys) ...");
    let big = tempfile::tempdir().unwrap();
    {
        // Create the schema, then fill it.
        let (gw, _) = start_gateway(big.path(), &[]);
        drop(gw);
    }
    let (big_token, big_model) = fill_large(big.path(), &mock.addr).await;
    let (gw_big, startup) = start_gateway(big.path(), &[]);
    let req = Rc::new(chat_request(&big_token, &big_model, 16, false, ""));
    let first = call_once(&gw_big.addr, &req).await;
    assert_eq!(
        first.status,
        200,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    let (b50, b99) = latency_at_rate(&gw_big.addr, req.clone(), 1000, secs).await;
    let rss_big = rss_mb(gw_big.child.id());
    rows.push(Row(
        "large DB: start-up until listening (ms)".into(),
        "".into(),
        format!("{:.0}", startup.as_secs_f64() * 1000.0),
        "goal ≤ 1000".into(),
    ));
    rows.push(Row(
        "large DB: latency p50 / p99 at 1,000 calls/s (ms)".into(),
        format!("{d50:.3} / {d99:.3}"),
        format!("{b50:.3} / {b99:.3}"),
        format!(
            "+{:.3} / +{:.3} ms; RSS {rss_big:.1} MB",
            b50 - d50,
            b99 - d99
        ),
    ));

    println!();
    println!("| measure | direct to mock | through gateway | gateway adds |");
    println!("|---|---|---|---|");
    for Row(a, b, c, d) in rows {
        println!("| {a} | {b} | {c} | {d} |");
    }
}
