//! `cargo bench --bench proxy`: the gateway's overhead, measured side by side with the
//! upstream alone. Starts `mock-upstream` and `gateway-zero` (release build, SQLite,
//! accounting and request logging on) on loopback and drives them from this process with a
//! small HTTP/1.1 load generator (its own process, not the gateway's threads), then prints a
//! table.
//!
//! `BENCH_SECS` (default 5) sets the length of each timed phase.

mod http;
mod load;
#[allow(dead_code)] // the nginx helpers serve the other benches
mod procs;
mod socket;

use std::rc::Rc;

use http::{call_once, chat_request, request};
use load::{latency_at_rate, rss_with_open_streams, stream_times, throughput, throughput_ab};
use procs::{master_key_b64, provision, rss_mb, start_gateway, start_mock};

// ---------------------------------------------------------------- set-up through the admin API

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
            models: Set(Some(entity::columns::ModelList::Names(vec![
                format!("model-{i}"),
                "gpt-4o-mini".to_string(),
            ]))),
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
                key_ciphertext: Set(master.encrypt(
                    gateway_zero::secrets::Sealed::UpstreamKey {
                        provider_id: i / 10 + 1,
                    },
                    &key,
                )),
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
                    role: Set(entity::columns::Role::Client),
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
    procs::run_local(run);
}

struct Row(String, String, String, String);

/// `BENCH_COMPARE_BIN=<another gateway-zero>`: this build and that one side by side in one
/// run — both started at once against one mock, every phase alternating between them
/// (throughput 5 rounds, latency at 100 and 1,000 calls/s 5 rounds each, streams 3 rounds),
/// medians reported. Before/after comparisons no longer depend on the machine's drift
/// between two runs.
async fn compare(secs: f64, other: &str) {
    let mock = start_mock();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let this = std::env::var("BENCH_GATEWAY_BIN").unwrap_or_else(|_| procs::GATEWAY_BIN.into());
    let (a, _) = procs::start_gateway_bin(&this, dir_a.path(), &[]);
    let (b, _) = procs::start_gateway_bin(other, dir_b.path(), &[]);
    // `BENCH_B_TEAM=1`: the second gateway's token is in a team, with budget periods on
    // both (with BENCH_COMPARE_BIN naming this same build: what teams and periods cost).
    let b_team = std::env::var("BENCH_B_TEAM").is_ok_and(|v| v == "1");
    let (ta, tb) = (
        provision(&a.addr, &mock.addr).await,
        procs::provision_with(&b.addr, &mock.addr, b_team).await,
    );
    let (ra, rb) = (
        Rc::new(chat_request(&ta, "gpt-4o-mini", 16, false, "")),
        Rc::new(chat_request(&tb, "gpt-4o-mini", 16, false, "")),
    );
    throughput(&a.addr, ra.clone(), 16, 1.0).await;
    throughput(&b.addr, rb.clone(), 16, 1.0).await;
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mut rows: Vec<(String, String, String)> = Vec::new();
    eprintln!("throughput ...");
    let (qa, qb) = throughput_ab((&a.addr, ra.clone()), (&b.addr, rb.clone()), secs / 2.0, 5).await;
    rows.push((
        "calls/s, 64 connections (median of 5)".into(),
        format!("{qa:.0}"),
        format!("{qb:.0}"),
    ));
    for rate in [100u64, 1000] {
        eprintln!("latency at {rate} calls/s ...");
        let (mut a50, mut a99, mut b50, mut b99) = (vec![], vec![], vec![], vec![]);
        for _ in 0..5 {
            let (p50, p99) = latency_at_rate(&a.addr, ra.clone(), rate, secs / 2.0).await;
            a50.push(p50);
            a99.push(p99);
            let (p50, p99) = latency_at_rate(&b.addr, rb.clone(), rate, secs / 2.0).await;
            b50.push(p50);
            b99.push(p99);
        }
        rows.push((
            format!("latency p50 / p99 at {rate} calls/s (ms, medians of 5)"),
            format!("{:.3} / {:.3}", median(a50), median(a99)),
            format!("{:.3} / {:.3}", median(b50), median(b99)),
        ));
    }
    eprintln!("streams ...");
    let (sa, sb) = (
        chat_request(&ta, "gpt-4o-mini", 200, true, ""),
        chat_request(&tb, "gpt-4o-mini", 200, true, ""),
    );
    let (mut af, mut at, mut bf, mut bt) = (vec![], vec![], vec![], vec![]);
    for _ in 0..3 {
        let (f, t, _) = stream_times(&a.addr, &sa, 50).await;
        af.push(f);
        at.push(t);
        let (f, t, _) = stream_times(&b.addr, &sb, 50).await;
        bf.push(f);
        bt.push(t);
    }
    rows.push((
        "stream: first chunk / 200-token total (ms, medians of 3)".into(),
        format!("{:.3} / {:.3}", median(af), median(at)),
        format!("{:.3} / {:.3}", median(bf), median(bt)),
    ));
    rows.push((
        "RSS after the runs (MB)".into(),
        format!("{:.1}", rss_mb(a.child.id())),
        format!("{:.1}", rss_mb(b.child.id())),
    ));
    println!();
    println!("| measure | this build | {other} |");
    println!("|---|---|---|");
    for (m, x, y) in rows {
        println!("| {m} | {x} | {y} |");
    }
}

async fn run(secs: f64) {
    if let Ok(other) = std::env::var("BENCH_COMPARE_BIN") {
        return compare(secs, &other).await;
    }
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

    eprintln!("Responses API ...");
    // The same call as a Responses request, translated to Chat Completions: what the third
    // dialect costs over a pass-through chat call (store false, and stored).
    let responses = |store: bool| {
        Rc::new(request(
            "POST",
            "/v1/responses",
            &token,
            &format!(
                r#"{{"model":"gpt-4o-mini","input":"Hello, how are you today?","max_output_tokens":16,"store":{store}}}"#
            ),
        ))
    };
    if call_once(&gw.addr, &responses(false)).await.status == 200 {
        for store in [false, true] {
            throughput(&gw.addr, responses(store), 16, 1.0).await;
            let (chat, resp) = throughput_ab(
                (&gw.addr, plain.clone()),
                (&gw.addr, responses(store)),
                secs / 2.0,
                3,
            )
            .await;
            rows.push(Row(
                format!(
                    "gateway calls/s, chat / responses translated to chat, store {store} (median of 3)"
                ),
                "".into(),
                format!("{chat:.0} / {resp:.0}"),
                format!("responses at {:.0} % of chat", resp / chat * 100.0),
            ));
        }
        // The same streamed call over SSE and over the WebSocket Codex opens, alternated.
        let (mut sse, mut ws) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            sse.push(socket::responses_calls(&gw.addr, &token, 16, secs / 2.0, false).await);
            ws.push(socket::responses_calls(&gw.addr, &token, 16, secs / 2.0, true).await);
        }
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (sse, ws) = (median(sse), median(ws));
        rows.push(Row(
            "gateway Responses calls/s, streamed: SSE / WebSocket, 16 connections (median of 3)"
                .into(),
            "".into(),
            format!("{sse:.0} / {ws:.0}"),
            format!("WebSocket at {:.0} % of SSE", ws / sse * 100.0),
        ));
    } else {
        eprintln!("(this build has no /v1/responses)");
    }

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
