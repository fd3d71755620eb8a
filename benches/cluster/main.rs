//! `cargo bench --bench cluster`: what a cluster costs. One instance on Postgres against two
//! instances of the same release binary behind nginx (`deploy/nginx.conf`, ports replaced),
//! with tokens without limits, with a budget (leased from Postgres:
//! `cluster.shared_limits`), and with a budget plus rpm, or rpm and tpm (a shared
//! per-minute window too); and two instances with
//! `shared_limits = false` to show what sharing costs. Prints a table.
//!
//! Needs Postgres (`GATEWAY_BENCH_DATABASE_URL`, default the local CI one; a fresh database
//! per set-up) and `nginx` on the PATH. `BENCH_SECS` (default 5) sets each timed phase.
//! Everything runs on this machine's cores: load generator, nginx, instances, mock, Postgres.

#[allow(dead_code)]
#[path = "../proxy/http.rs"]
mod http;
#[allow(dead_code)]
#[path = "../proxy/load.rs"]
mod load;
#[allow(dead_code)]
#[path = "../proxy/procs.rs"]
mod procs;

use std::rc::Rc;
use std::time::{Duration, Instant};

use http::{call_once, chat_request};
use load::{latency_at_rate, throughput};
use procs::{admin, free_port, start_gateway, start_mock, Nginx, Proc};
use sea_orm::{ConnectionTrait, Database};

const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";

fn main() {
    procs::run_local(run);
}

/// A fresh database on the bench Postgres, dropped with the value.
struct PgDatabase {
    base: String,
    name: String,
}

impl PgDatabase {
    async fn create(base: &str, tag: &str) -> PgDatabase {
        let name = format!("gz_bench_{}_{tag}", std::process::id());
        let db = Database::connect(base).await.expect("connect to Postgres");
        db.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
            .await
            .unwrap();
        db.execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        PgDatabase {
            base: base.to_string(),
            name,
        }
    }

    fn url(&self) -> String {
        let (prefix, _) = self.base.rsplit_once('/').expect("a database URL");
        format!("{prefix}/{}", self.name)
    }

    async fn drop_it(self) {
        let db = Database::connect(&self.base).await.unwrap();
        let _ = db
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await;
    }
}

/// nginx with `deploy/nginx.conf`, its two instance addresses and listen port replaced.
fn nginx_in_front(dir: &std::path::Path, a: &str, b: &str) -> Nginx {
    let port = free_port();
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/nginx.conf"))
            .expect("deploy/nginx.conf");
    let conf = template
        .replace("127.0.0.1:8081", a)
        .replace("127.0.0.1:8082", b)
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));
    procs::start_nginx(&dir.join("nginx"), &conf, port)
}

/// The kinds of token compared.
const TOKENS: [(&str, &str); 4] = [
    ("no limits", r#"{"name":"free"}"#),
    ("budget", r#"{"name":"budget","max_amount":1000000}"#),
    (
        "budget + rpm",
        r#"{"name":"rpm","max_amount":1000000,"rpm":1000000}"#,
    ),
    (
        "budget + rpm/tpm",
        r#"{"name":"rpm-tpm","max_amount":1000000,"rpm":1000000,"tpm":1000000000}"#,
    ),
];

/// One provider with two keys on `mock`; one token of each kind. Returns the plaintexts.
async fn provision(gw: &str, mock: &str) -> Vec<String> {
    admin(gw, "POST", "/providers", &format!(
        r#"{{"name":"mock","api_type":"openai","base_url":"http://{mock}/v1","models":["gpt-4o-mini"]}}"#
    )).await;
    for key in ["sk-bench-key-000000000001", "sk-bench-key-000000000002"] {
        admin(
            gw,
            "POST",
            "/providers/mock/keys",
            &format!(r#"{{"key":"{key}"}}"#),
        )
        .await;
    }
    let mut plain = Vec::new();
    for (_, body) in TOKENS {
        let created = admin(gw, "POST", "/admin/tokens", body).await;
        let v: serde_json::Value = serde_json::from_str(&created).unwrap();
        plain.push(v["token"].as_str().unwrap().to_string());
    }
    plain
}

/// Calls `addr` until it answers 200 (every instance behind it has the provider).
async fn until_serving(addr: &str, req: &Rc<Vec<u8>>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    for _ in 0..20 {
        loop {
            if call_once(addr, req).await.status == 200 {
                break;
            }
            assert!(Instant::now() < deadline, "{addr} never served");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

struct Setup {
    name: &'static str,
    instances: usize,
    shared_limits: bool,
}

struct Measured {
    calls_per_sec: f64,
    p50: f64,
    p99: f64,
}

async fn median_throughput(addr: &str, req: Rc<Vec<u8>>, secs: f64) -> f64 {
    let mut runs = Vec::new();
    for _ in 0..3 {
        runs.push(throughput(addr, req.clone(), 64, secs / 2.0).await);
    }
    runs.sort_by(f64::total_cmp);
    runs[1]
}

async fn measure(setup: &Setup, n: usize, base: &str, mock: &str, secs: f64) -> Vec<Measured> {
    let pg = PgDatabase::create(base, &n.to_string()).await;
    let dir = tempfile::tempdir().unwrap();
    let url = pg.url();
    let shared = setup.shared_limits.to_string();
    let env = [
        ("GATEWAY__DATABASE__URL", url.as_str()),
        ("GATEWAY__CLUSTER__SHARED_LIMITS", shared.as_str()),
    ];
    let mut gateways: Vec<Proc> = Vec::new();
    for i in 0..setup.instances {
        let own = dir.path().join(format!("i{i}"));
        std::fs::create_dir_all(&own).unwrap();
        gateways.push(start_gateway(&own, &env).0);
    }
    let nginx = (setup.instances == 2)
        .then(|| nginx_in_front(dir.path(), &gateways[0].addr, &gateways[1].addr));
    let entry = nginx
        .as_ref()
        .map_or(gateways[0].addr.clone(), |n| n.addr.clone());
    let tokens = provision(&entry, mock).await;
    let mut out = Vec::new();
    for token in &tokens {
        let req = Rc::new(chat_request(token, "gpt-4o-mini", 16, false, ""));
        until_serving(&entry, &req).await;
        throughput(&entry, req.clone(), 16, 1.0).await; // warm-up
        let calls_per_sec = median_throughput(&entry, req.clone(), secs).await;
        let (p50, p99) = latency_at_rate(&entry, req, 500, secs).await;
        out.push(Measured {
            calls_per_sec,
            p50,
            p99,
        });
    }
    drop(nginx);
    drop(gateways);
    pg.drop_it().await;
    out
}

async fn run(secs: f64) {
    let base = std::env::var("GATEWAY_BENCH_DATABASE_URL").unwrap_or_else(|_| DEFAULT_PG.into());
    let mock = start_mock();
    let direct_req = Rc::new(chat_request("none", "gpt-4o-mini", 16, false, ""));
    throughput(&mock.addr, direct_req.clone(), 16, 1.0).await;
    let direct = median_throughput(&mock.addr, direct_req.clone(), secs).await;
    let (d50, d99) = latency_at_rate(&mock.addr, direct_req, 500, secs).await;

    let setups = [
        Setup {
            name: "1 instance",
            instances: 1,
            shared_limits: true,
        },
        Setup {
            name: "2 instances behind nginx",
            instances: 2,
            shared_limits: true,
        },
        Setup {
            name: "2 instances behind nginx, shared_limits = false",
            instances: 2,
            shared_limits: false,
        },
    ];
    let mut rows = Vec::new();
    for (n, setup) in setups.iter().enumerate() {
        eprintln!("{} ...", setup.name);
        let measured = measure(setup, n, &base, &mock.addr, secs).await;
        for ((kind, _), m) in TOKENS.iter().zip(measured) {
            rows.push((setup.name, *kind, m));
        }
    }

    println!();
    println!(
        "Direct to the mock: {direct:.0} calls/s at 64 connections; p50 / p99 at 500 calls/s {d50:.3} / {d99:.3} ms."
    );
    println!();
    println!("| set-up (Postgres) | token | calls/s, 64 connections | p50 / p99 at 500 calls/s (ms) | added p50 / p99 (ms) |");
    println!("|---|---|---|---|---|");
    for (setup, kind, m) in rows {
        println!(
            "| {setup} | {kind} | {:.0} | {:.3} / {:.3} | +{:.3} / +{:.3} |",
            m.calls_per_sec,
            m.p50,
            m.p99,
            m.p50 - d50,
            m.p99 - d99
        );
    }
}
