//! `cargo bench --bench versus_nginx`: the gateway beside nginx, in one run on one machine.
//!
//! - nginx returning a canned chat completion is the upstream ("direct");
//! - nginx as a plain reverse proxy to it (upstream keep-alive) is the reference;
//! - the gateway (release build, SQLite, authentication, routing, accounting and request
//!   logging on, a budgeted token) proxies to the same canned nginx.
//!
//! Throughput at 64 connections (5 alternating rounds, medians) and the latency each adds
//! over a direct call at 100 and 1,000 calls/s (3 alternating rounds, medians); then many
//! slow streams at once through `mock-upstream` (20 chunks 250 ms apart, `BENCH_STREAMS`
//! connections, default 8,000): the gateway's RSS per open stream and the streams' duration
//! against the same streams direct. Also the CPU each proxy spends per call. `BENCH_SECS`
//! (default 5) sets each timed phase; `BENCH_GATEWAY_BIN` measures another build, and
//! `BENCH_COMPARE_BIN` adds a second build as a column of its own (both up at once, every
//! round alternating). `BENCH_TRACING=on` gives the first build tracing at sample ratio 1
//! exporting to an nginx that answers every export 200 (a collector that costs nothing
//! itself), `BENCH_TRACING=dead` an OTLP endpoint where nothing listens; the compare build
//! runs without (compare the same binary against itself for the cost of tracing alone).
//! Needs `nginx` on the PATH.

#[path = "../proxy/allocs.rs"]
mod allocs;
#[path = "../proxy/http.rs"]
#[allow(dead_code)]
mod http;
#[path = "../proxy/load.rs"]
#[allow(dead_code)]
mod load;
#[path = "../proxy/procs.rs"]
#[allow(dead_code)]
mod procs;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use http::{call_once, chat_request, find, Conn};
use load::{latency_at_rate, throughput};
use procs::{free_port, provision, rss_mb, start_mock, start_nginx, Nginx};

/// nginx with `http` as its http block, `workers` worker processes, listening on `port`.
fn nginx(dir: &std::path::Path, name: &str, workers: usize, port: u16, http: &str) -> Nginx {
    let prefix = dir.join(name);
    let conf = format!(
        "worker_processes {workers};\nerror_log stderr error;\npid {}/nginx.pid;\n\
         events {{ worker_connections 20000; }}\n\
         http {{ access_log off; keepalive_requests 10000000; keepalive_timeout 120s; {http} }}\n",
        prefix.display()
    );
    start_nginx(&prefix, &conf, port)
}

/// What the canned upstream answers: a chat completion with usage, like the mock's.
const CANNED: &str = r#"{"id":"chatcmpl-canned","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"tok0 tok1 tok2 tok3 tok4 tok5 tok6 tok7 tok8 tok9 tok10 tok11 tok12 tok13 tok14 tok15 "},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":16,"total_tokens":25}}"#;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `n` slow streams at once: each one's duration (s), and the peak RSS (MB) of `pid`
/// while they ran (sampled every 100 ms).
async fn slow_streams(addr: &str, req: Rc<Vec<u8>>, n: usize, pid: Option<u32>) -> (Vec<f64>, f64) {
    let durations = Rc::new(RefCell::new(Vec::with_capacity(n)));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (req, durations, addr) = (req.clone(), durations.clone(), addr.to_string());
            tokio::task::spawn_local(async move {
                let mut c = Conn::open(&addr).await;
                let t0 = Instant::now();
                c.stream.write_all(&req).await.unwrap();
                while find(&c.buf, b"[DONE]").is_none() {
                    if !c.fill().await {
                        return;
                    }
                }
                durations.borrow_mut().push(t0.elapsed().as_secs_f64());
            })
        })
        .collect();
    let peak = Rc::new(std::cell::Cell::new(0f64));
    let running = Rc::new(std::cell::Cell::new(true));
    let sampler = {
        let (peak, running) = (peak.clone(), running.clone());
        tokio::task::spawn_local(async move {
            while running.get() {
                if let Some(pid) = pid {
                    peak.set(peak.get().max(rss_mb(pid)));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    for t in tasks {
        t.await.unwrap();
    }
    running.set(false);
    sampler.await.unwrap();
    let d = durations.borrow().clone();
    (d, peak.get())
}

fn pct(v: &[f64], p: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[((s.len() as f64 * p) as usize).min(s.len() - 1)]
}

fn main() {
    procs::run_local(run);
}

/// Heap allocations a call costs build `bin` at 64 connections: its count over a timed
/// round, less what it allocates idle over as long, divided by the calls.
async fn allocations_per_call(
    bin: &str,
    extra: &[(&str, &str)],
    upstream: &str,
    secs: f64,
) -> Option<f64> {
    let dir = tempfile::tempdir().unwrap();
    let lib = allocs::build(dir.path())?;
    let out = dir.path().join("allocs.txt");
    let env = allocs::env(&lib, &out);
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env.extend_from_slice(extra);
    let (gw, _) = procs::start_gateway_bin(bin, dir.path(), &env);
    let token = provision(&gw.addr, upstream).await;
    let req = Rc::new(chat_request(&token, "gpt-4o-mini", 16, false, ""));
    let pid = gw.child.id();
    throughput(&gw.addr, req.clone(), 64, 1.0).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle0 = allocs::read(pid, &out).await;
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(secs / 2.0)).await;
    let idle = (allocs::read(pid, &out).await - idle0) as f64 / t.elapsed().as_secs_f64();
    let a = allocs::read(pid, &out).await;
    let t = Instant::now();
    let rate = throughput(&gw.addr, req, 64, secs / 2.0).await;
    let elapsed = t.elapsed().as_secs_f64();
    let b = allocs::read(pid, &out).await;
    Some(((b - a) as f64 - idle * elapsed) / (rate * elapsed))
}

/// CPU time (user + system, seconds) used so far by process `pid` and its children that
/// are still running (nginx's workers).
fn cpu_secs(pid: u32) -> f64 {
    let tick = 100.0; // USER_HZ on Linux
    let own = |pid: &str| -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Fields after the command's closing parenthesis: utime and stime are 14th and 15th.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = rest.split_whitespace().collect();
        let field = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        (field(11) + field(12)) / tick
    };
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    own(&pid.to_string()) + children.split_whitespace().map(own).sum::<f64>()
}

/// One proxy under test: its name, address, request and the process whose CPU is its cost.
struct Target {
    name: String,
    addr: String,
    req: Rc<Vec<u8>>,
    pid: Option<u32>,
}

async fn run(secs: f64) {
    let dir = tempfile::tempdir().unwrap();
    let canned_port = free_port();
    let canned = nginx(dir.path(), "canned", 1, canned_port, &format!(
        "server {{ listen 127.0.0.1:{canned_port} reuseport; location / {{ default_type application/json; return 200 '{CANNED}'; }} }}"
    ));
    let proxy_port = free_port();
    let proxy = nginx(
        dir.path(),
        "proxy",
        2,
        proxy_port,
        &format!(
            "upstream canned {{ server {}; keepalive 128; }} \
         server {{ listen 127.0.0.1:{proxy_port}; location / {{ proxy_pass http://canned; \
         proxy_http_version 1.1; proxy_set_header Connection \"\"; }} }}",
            canned.addr
        ),
    );
    // This build and, with BENCH_COMPARE_BIN, another one beside it (both up at once).
    let this = std::env::var("BENCH_GATEWAY_BIN").unwrap_or_else(|_| procs::GATEWAY_BIN.into());
    let compare = std::env::var("BENCH_COMPARE_BIN").ok();
    let tracing = std::env::var("BENCH_TRACING").unwrap_or_default();
    let collector_port = free_port();
    let _collector = (tracing == "on").then(|| {
        nginx(
            dir.path(),
            "collector",
            1,
            collector_port,
            &format!(
                "server {{ listen 127.0.0.1:{collector_port}; client_body_buffer_size 4m; \
             location / {{ return 200; }} }}"
            ),
        )
    });
    let endpoint = match tracing.as_str() {
        "on" => Some(format!("http://127.0.0.1:{collector_port}/v1/traces")),
        // Nothing listens there.
        "dead" => Some(format!("http://127.0.0.1:{}/v1/traces", free_port())),
        _ => None,
    };
    let traced: Vec<(&str, &str)> = endpoint
        .as_deref()
        .map(|url| vec![("GATEWAY__TELEMETRY__OTLP_ENDPOINT", url)])
        .unwrap_or_default();
    let first_name = match tracing.as_str() {
        "on" | "dead" => format!("gateway (tracing {tracing})"),
        _ => "gateway".to_string(),
    };
    let mut builds = vec![(first_name, this)];
    if let Some(other) = compare {
        builds.push(("gateway (BENCH_COMPARE_BIN)".to_string(), other));
    }
    // The first build's environment (tracing), the others' none.
    let env_of = |j: usize| -> &[(&str, &str)] {
        if j == 0 {
            &traced
        } else {
            &[]
        }
    };
    let anonymous = Rc::new(chat_request("-", "gpt-4o-mini", 16, false, ""));
    let mut targets = vec![
        Target {
            name: "direct (canned nginx)".into(),
            addr: canned.addr.clone(),
            req: anonymous.clone(),
            pid: None,
        },
        Target {
            name: "nginx reverse proxy".into(),
            addr: proxy.addr.clone(),
            req: anonymous,
            pid: Some(proxy.child.id()),
        },
    ];
    let mut gateways = Vec::new();
    for (j, (name, bin)) in builds.iter().enumerate() {
        let gw_dir = tempfile::tempdir().unwrap();
        let (gw, _) = procs::start_gateway_bin(bin, gw_dir.path(), env_of(j));
        let token = provision(&gw.addr, &canned.addr).await;
        let req = Rc::new(chat_request(&token, "gpt-4o-mini", 16, false, ""));
        let first = call_once(&gw.addr, &req).await;
        assert_eq!(
            first.status,
            200,
            "{}",
            String::from_utf8_lossy(&first.body)
        );
        targets.push(Target {
            name: name.clone(),
            addr: gw.addr.clone(),
            req,
            pid: Some(gw.child.id()),
        });
        gateways.push((gw, gw_dir));
    }
    let k = targets.len();
    for t in &targets {
        throughput(&t.addr, t.req.clone(), 16, 1.0).await;
    }
    eprintln!("throughput at 64 connections ...");
    let mut calls: Vec<Vec<f64>> = vec![Vec::new(); k];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); k];
    for _ in 0..5 {
        for (i, t) in targets.iter().enumerate() {
            let before = t.pid.map(cpu_secs);
            let started = Instant::now();
            let rate = throughput(&t.addr, t.req.clone(), 64, secs / 2.0).await;
            let n = rate * started.elapsed().as_secs_f64();
            calls[i].push(rate);
            if let (Some(pid), Some(before)) = (t.pid, before) {
                cpu[i].push((cpu_secs(pid) - before) * 1e6 / n);
            }
        }
    }
    let calls: Vec<f64> = calls.into_iter().map(median).collect();
    let mut rows = vec![(
        "calls/s, 64 connections (median of 5)".to_string(),
        calls.iter().map(|c| format!("{c:.0}")).collect::<Vec<_>>(),
    )];
    rows.push((
        "÷ nginx reverse proxy".into(),
        calls
            .iter()
            .map(|c| format!("{:.2}", c / calls[1]))
            .collect(),
    ));
    rows.push((
        "CPU per call of the proxy, µs (user + system, median of 5)".into(),
        cpu.into_iter()
            .map(|v| {
                if v.is_empty() {
                    "—".into()
                } else {
                    format!("{:.1}", median(v))
                }
            })
            .collect(),
    ));
    for rate in [100u64, 1000] {
        eprintln!("latency at {rate} calls/s ...");
        let mut p50: Vec<Vec<f64>> = vec![Vec::new(); k];
        let mut p99: Vec<Vec<f64>> = vec![Vec::new(); k];
        for _ in 0..3 {
            for (i, t) in targets.iter().enumerate() {
                let (a, b) = latency_at_rate(&t.addr, t.req.clone(), rate, secs / 2.0).await;
                p50[i].push(a);
                p99[i].push(b);
            }
        }
        let p50: Vec<f64> = p50.into_iter().map(median).collect();
        let p99: Vec<f64> = p99.into_iter().map(median).collect();
        rows.push((
            format!("p50 / p99 at {rate} calls/s (ms, medians of 3)"),
            (0..k)
                .map(|i| format!("{:.3} / {:.3}", p50[i], p99[i]))
                .collect(),
        ));
        rows.push((
            format!("added over direct at {rate} calls/s, p50 / p99 (ms)"),
            (0..k)
                .map(|i| {
                    if i == 0 {
                        "—".into()
                    } else {
                        format!("+{:.3} / +{:.3}", p50[i] - p50[0], p99[i] - p99[0])
                    }
                })
                .collect(),
        ));
    }
    rows.push((
        "RSS after these rounds (MB)".into(),
        targets
            .iter()
            .enumerate()
            .map(|(i, t)| match t.pid {
                Some(pid) if i >= 2 => format!("{:.1}", rss_mb(pid)),
                _ => "—".into(),
            })
            .collect(),
    ));
    drop(gateways);
    eprintln!("allocations per call ...");
    rows.push((
        "heap allocations per call (glibc malloc/calloc/realloc/memalign, LD_PRELOAD count)".into(),
        (0..k)
            .map(|i| {
                if i < 2 {
                    "—".to_string()
                } else {
                    String::new()
                }
            })
            .collect(),
    ));
    let row = rows.len() - 1;
    for (j, (_, bin)) in builds.iter().enumerate() {
        rows[row].1[2 + j] = match allocations_per_call(bin, env_of(j), &canned.addr, secs).await {
            Some(n) => format!("{n:.1}"),
            None => "no C compiler".into(),
        };
    }
    drop(proxy);
    drop(canned);

    let n: usize = std::env::var("BENCH_STREAMS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8000);
    eprintln!("{n} slow streams ...");
    let mock = start_mock();
    let slow = |token: &str| {
        Rc::new(chat_request(
            token,
            "gpt-4o-mini",
            20,
            true,
            r#","mock":{"chunk_delay_ms":250}"#,
        ))
    };
    let (direct, _) = slow_streams(&mock.addr, slow("-"), n, None).await;
    let mut through = Vec::new();
    for (j, (name, bin)) in builds.iter().enumerate() {
        let gw_dir = tempfile::tempdir().unwrap();
        let (gw, _) = procs::start_gateway_bin(bin, gw_dir.path(), env_of(j));
        let token = provision(&gw.addr, &mock.addr).await;
        let idle = rss_mb(gw.child.id());
        let (d, peak) = slow_streams(&gw.addr, slow(&token), n, Some(gw.child.id())).await;
        through.push((name.clone(), d, idle, peak));
    }
    println!();
    print!("| measure |");
    for t in &targets {
        print!(" {} |", t.name);
    }
    println!();
    println!("|---|{}", "---|".repeat(k));
    for (m, v) in rows {
        println!("| {m} | {} |", v.join(" | "));
    }
    println!();
    print!("| {n} slow streams (20 chunks 250 ms apart, mock-upstream) | direct |");
    for (name, ..) in &through {
        print!(" through {name} |");
    }
    println!();
    println!("|---|---|{}", "---|".repeat(through.len()));
    print!("| streams completed | {} |", direct.len());
    for (_, d, ..) in &through {
        print!(" {} |", d.len());
    }
    println!();
    print!(
        "| duration p50 / p99 (s) | {:.2} / {:.2} |",
        pct(&direct, 0.5),
        pct(&direct, 0.99)
    );
    for (_, d, ..) in &through {
        print!(
            " {:.2} / {:.2} (+{:.0} % / +{:.0} %) |",
            pct(d, 0.5),
            pct(d, 0.99),
            (pct(d, 0.5) / pct(&direct, 0.5) - 1.0) * 100.0,
            (pct(d, 0.99) / pct(&direct, 0.99) - 1.0) * 100.0
        );
    }
    println!();
    print!("| gateway RSS idle / peak (MB), per open stream (KB) | |");
    for (_, _, idle, peak) in &through {
        print!(
            " {idle:.1} / {peak:.1}, {:.1} KB |",
            (peak - idle) * 1024.0 / n as f64
        );
    }
    println!();
}
