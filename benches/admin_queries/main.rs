//! The admin plane's read side at scale: 1,000,000 request-log rows over the last 24 hours
//! (written through the gateway's own batch writer, so the rollups are filled the way a
//! running gateway fills them), then the metrics summary, the model distribution and
//! request-log pages, timed on SQLite and — with GATEWAY_BENCH_DATABASE_URL or
//! GATEWAY_TEST_DATABASE_URL pointing at a Postgres server — on Postgres.
//!
//! `cargo bench --bench admin_queries` (ROWS=… to change the row count). Prints a table.

use std::time::{Duration, Instant};

use gateway_zero::store::log_entry::LogEntry;
use gateway_zero::store::log_search::{self, Cursor, LogFilter, Outcome};
use gateway_zero::store::logs::write_batch;
use gateway_zero::store::summary;
use migration::MigratorTrait;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

const PROVIDERS: [&str; 4] = ["openai-a", "openai-b", "anthropic", "deepseek"];
const MODELS: [(&str, usize); 12] = [
    ("gpt-4o-mini", 0),
    ("gpt-4o", 0),
    ("gpt-4.1", 1),
    ("gpt-4.1-mini", 1),
    ("o3-mini", 0),
    ("text-embedding-3-small", 1),
    ("claude-3-5-sonnet", 2),
    ("claude-3-5-haiku", 2),
    ("claude-sonnet-4", 2),
    ("deepseek-chat", 3),
    ("deepseek-reasoner", 3),
    ("gpt-4o-2024-08-06", 0),
];
const TOKENS: i32 = 200;
/// End users named by calls (7 in 10 name one), skewed like tokens; each with a few sessions.
const END_USERS: usize = 5_000;
const DAY_MS: i64 = 86_400_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A plausible call: skewed towards a few models and tokens, 3 % errors, latencies from
/// 150 ms to a few seconds.
fn row(rng: &mut StdRng, at: i64, n: usize) -> LogEntry {
    let m = (rng.gen::<f64>().powi(2) * MODELS.len() as f64) as usize;
    let (model, provider) = MODELS[m];
    let provider = if provider == 0 && rng.gen_bool(0.3) {
        1
    } else {
        provider
    };
    let error = rng.gen_bool(0.03);
    let prompt = rng.gen_range(20..2000);
    let completion = if error { 0 } else { rng.gen_range(1..800) };
    let latency = (150.0 * (1.0 + rng.gen::<f64>() * 4.0).powi(2)) as i64;
    let end_user = rng
        .gen_bool(0.7)
        .then(|| (rng.gen::<f64>().powi(3) * END_USERS as f64) as usize);
    LogEntry {
        end_user: end_user.map(|u| format!("user-{u}")),
        session_id: end_user.map(|u| format!("session-{u}-{}", rng.gen_range(0..4))),
        created_at: at,
        request_id: format!("req_{n:016x}"),
        token_id: Some(1 + (rng.gen::<f64>().powi(3) * TOKENS as f64) as i32),
        endpoint: "chat.completions",
        requested_model: Some(model.to_string()),
        model: Some(model.to_string()),
        provider: Some(PROVIDERS[provider].to_string()),
        key_id: Some(1 + provider as i32),
        stream: rng.gen_bool(0.5),
        status_code: if error { 502 } else { 200 },
        error_type: error.then(|| "upstream_failed".to_string()),
        error_message: error.then(|| "upstream failed on every attempt (3)".to_string()),
        latency_ms: latency,
        first_byte_ms: Some(latency / 3),
        attempts: 1 + u32::from(error) * 2,
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        amount: gateway_zero::core::money::Money::from_nanos(prompt * 150 + completion * 600),
        ..Default::default()
    }
}

async fn fill(db: &DatabaseConnection, rows: usize, now: i64) -> Duration {
    let mut rng = StdRng::seed_from_u64(7);
    let started = Instant::now();
    let step = DAY_MS as f64 / rows as f64;
    let mut batch = Vec::with_capacity(5000);
    for n in 0..rows {
        let at = now - DAY_MS + (n as f64 * step) as i64;
        batch.push(row(&mut rng, at, n));
        if batch.len() == 5000 {
            write_batch(db, &batch, false).await.expect("write batch");
            batch.clear();
        }
    }
    write_batch(db, &batch, false).await.expect("write batch");
    started.elapsed()
}

/// Median of `runs` timings of `f`, in milliseconds.
async fn time<F, Fut, T>(runs: usize, mut f: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        std::hint::black_box(f().await);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    times[runs / 2]
}

/// What `/admin/metrics/summary` runs.
async fn full_summary(db: &DatabaseConnection, since: i64) {
    summary::report(db, since, now_ms(), 10).await.unwrap();
}

async fn page(db: &DatabaseConnection, filter: LogFilter, cursor: Option<Cursor>) -> usize {
    log_search::page(db, &filter, cursor, 50)
        .await
        .unwrap()
        .0
        .len()
}

async fn measure(db: &DatabaseConnection, now: i64) -> Vec<(String, f64)> {
    let day = summary::window_start(now, 24 * 60);
    let hour = summary::window_start(now, 60);
    let mut out = Vec::new();
    let runs = 7;
    out.push((
        "summary, 24 h window".to_string(),
        time(runs, || full_summary(db, day)).await,
    ));
    out.push((
        "summary, 60 min window".to_string(),
        time(runs, || full_summary(db, hour)).await,
    ));
    out.push((
        "models distribution, 24 h".to_string(),
        time(runs, || async {
            summary::distribution(db, day, now_ms()).await.unwrap()
        })
        .await,
    ));
    out.push((
        "end users by spend, 24 h (top 50)".to_string(),
        time(runs, || async {
            gateway_zero::store::end_users::top(db, day, 50)
                .await
                .unwrap()
        })
        .await,
    ));
    let filters: Vec<(&str, LogFilter)> = vec![
        (
            "log page, end_user = user-4000 (rare)",
            LogFilter {
                end_user: Some("user-4000".into()),
                ..Default::default()
            },
        ),
        (
            "log page, session_id = session-3-1",
            LogFilter {
                session_id: Some("session-3-1".into()),
                ..Default::default()
            },
        ),
        ("log page, newest 50, no filter", LogFilter::default()),
        (
            "log page, provider = anthropic",
            LogFilter {
                provider: Some("anthropic".into()),
                ..Default::default()
            },
        ),
        (
            "log page, status = error",
            LogFilter {
                status: Some(Outcome::Error),
                ..Default::default()
            },
        ),
        (
            "log page, token_id = 150 (rare)",
            LogFilter {
                token_id: Some(150),
                ..Default::default()
            },
        ),
        (
            "log page, model + status = error",
            LogFilter {
                model: Some("deepseek-reasoner".into()),
                status: Some(Outcome::Error),
                ..Default::default()
            },
        ),
        (
            "log page, provider, last hour",
            LogFilter {
                provider: Some("openai-b".into()),
                since: Some(now - 3_600_000),
                ..Default::default()
            },
        ),
    ];
    for (name, filter) in filters {
        let ms = time(runs, || page(db, filter.clone(), None)).await;
        out.push((name.to_string(), ms));
    }
    // 12 hours deep: a cursor in the middle of the log.
    let middle = Cursor {
        created_at: now - DAY_MS / 2,
        id: i64::MAX,
    };
    out.push((
        "log page, cursor 12 h deep".to_string(),
        time(runs, || page(db, LogFilter::default(), Some(middle))).await,
    ));
    out.push((
        "log page, status = error, cursor 12 h deep".to_string(),
        time(runs, || {
            page(
                db,
                LogFilter {
                    status: Some(Outcome::Error),
                    ..Default::default()
                },
                Some(middle),
            )
        })
        .await,
    ));
    // Token pages at 100,000 tokens (the admin list and the console's Tokens page).
    use gateway_zero::store::tokens;
    let first = tokens::page(db, None, None, None, 1).await.unwrap().0[0].id;
    for (name, q, after, limit) in [
        ("tokens page, first 10 of 100,000", None, None, 10u64),
        ("tokens page, first 100 of 100,000", None, None, 100),
        (
            "tokens page, 100 after token 90,000",
            None,
            Some(first + 90_000),
            100,
        ),
        (
            "tokens search, q = \"token-99\" (100 of 1,111)",
            Some("token-99"),
            None,
            100,
        ),
    ] {
        let ms = time(runs, || async {
            tokens::page(db, q, None, after, limit)
                .await
                .unwrap()
                .0
                .len()
        })
        .await;
        out.push((name.to_string(), ms));
    }
    out
}

/// 100,000 tokens, named `token-<n>`, written in batches.
async fn fill_tokens(db: &DatabaseConnection) {
    let backend = db.get_database_backend();
    for chunk in (0..100_000).collect::<Vec<i64>>().chunks(1000) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|n| {
                format!(
                    "('token-{n}', '{:064x}', 'gz-', 'client', TRUE, 0, 0, 0, 0, 0, 0, 0)",
                    n
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO tokens (name, token_hash, token_prefix, role, enabled, prompt_tokens, \
             completion_tokens, total_tokens, amount_spent_nano, request_count, created_at, \
             updated_at) VALUES {}",
            rows.join(", ")
        );
        db.execute(sea_orm::Statement::from_string(backend, sql))
            .await
            .expect("insert tokens");
    }
}

async fn count(db: &DatabaseConnection, table: &str) -> i64 {
    let backend = db.get_database_backend();
    db.query_one(sea_orm::Statement::from_string(
        backend,
        format!("SELECT COUNT(*) AS n FROM {table}"),
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get::<i64>("", "n")
    .unwrap()
}

async fn run(name: &str, url: &str, rows: usize) -> Vec<(String, f64)> {
    let db = Database::connect(url).await.expect("connect");
    migration::Migrator::up(&db, None).await.expect("migrate");
    let now = now_ms();
    let took = fill(&db, rows, now).await;
    fill_tokens(&db).await;
    // As autovacuum would after a bulk load: without statistics Postgres scans 100,000
    // tokens for a page of them (13 ms instead of 0.04 ms, measured).
    db.execute_unprepared("ANALYZE").await.expect("analyze");
    eprintln!(
        "{name}: wrote {rows} rows in {:.1} s ({:.0} rows/s); rollup rows: {} minute + {} hour (provider/model), {} hour/token, {} hour/end user, {} end user sessions, {} + {} latency",
        took.as_secs_f64(),
        rows as f64 / took.as_secs_f64(),
        count(&db, "request_rollups").await,
        count(&db, "request_rollups_hourly").await,
        count(&db, "token_rollups").await,
        count(&db, "end_user_rollups").await,
        count(&db, "end_user_sessions").await,
        count(&db, "latency_rollups").await,
        count(&db, "latency_rollups_hourly").await,
    );
    measure(&db, now).await
}

fn main() {
    let rows: usize = std::env::var("ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1_000_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = format!("sqlite://{}/bench.db?mode=rwc", dir.path().display());
        let mut columns = vec![("SQLite", run("SQLite", &sqlite, rows).await)];
        let pg = std::env::var("GATEWAY_BENCH_DATABASE_URL")
            .or_else(|_| std::env::var("GATEWAY_TEST_DATABASE_URL"))
            .ok();
        if let Some(base) = pg {
            let admin = Database::connect(&base).await.expect("connect to Postgres");
            let name = format!("gz_bench_{}", std::process::id());
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
            let url = match base.rfind('/') {
                Some(i) => format!("{}/{name}", &base[..i]),
                None => base.clone(),
            };
            columns.push(("Postgres", run("Postgres", &url, rows).await));
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await
                .unwrap();
        }
        println!("\n{rows} request-log rows over 24 h; median of 7 runs, milliseconds\n");
        print!("| query |");
        for (name, _) in &columns {
            print!(" {name} |");
        }
        println!();
        print!("|---|");
        for _ in &columns {
            print!("---:|");
        }
        println!();
        for (i, (query, _)) in columns[0].1.iter().enumerate() {
            print!("| {query} |");
            for (_, results) in &columns {
                print!(" {:.1} |", results[i].1);
            }
            println!();
        }
    });
}
