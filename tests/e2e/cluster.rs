//! Several instances on one Postgres (contract section 7): migrations applied once when
//! instances start together, and changes made through one instance in force on another
//! within 2 × `cluster.sync_interval_ms` — also when their clocks disagree.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::harness::*;

/// A fresh Postgres database, or `None` (with a note) when GATEWAY_TEST_DATABASE_URL is
/// unset; CI sets it, so these tests run there.
async fn postgres() -> Option<Backend> {
    match std::env::var("GATEWAY_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(Backend::postgres(&url).await),
        _ => {
            eprintln!("skipping: cluster tests need GATEWAY_TEST_DATABASE_URL (Postgres)");
            None
        }
    }
}

#[actix_web::test]
async fn instances_starting_together_migrate_once() {
    let Some(backend) = postgres().await else {
        return;
    };
    let env = Gateway::env_for(&backend, &[]);
    let children: Vec<_> = (0..4)
        .map(|_| {
            std::process::Command::new(GATEWAY_BIN)
                .current_dir(backend.dir.path())
                .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .arg("migrate")
                .output()
        })
        .collect();
    for out in children {
        let out = out.expect("run migrate");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let db = backend.connect().await;
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n, COUNT(DISTINCT version) AS d FROM seaql_migrations".to_string(),
        ))
        .await
        .unwrap()
        .unwrap();
    let (n, d): (i64, i64) = (row.try_get("", "n").unwrap(), row.try_get("", "d").unwrap());
    assert!(n >= 4 && n == d, "{n} rows for {d} migrations");
    backend.drop_database().await;
}

/// Polls `check` until it holds; the time it took.
async fn time_until<F, Fut>(limit: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    eventually(limit, || {
        let fut = check();
        async move { fut.await.then_some(()) }
    })
    .await
    .map(|_| started.elapsed())
}

#[actix_web::test]
async fn changes_on_one_instance_are_in_force_on_another_despite_clock_skew() {
    let Some(backend) = postgres().await else {
        return;
    };
    let sync_ms = 300u64;
    let sync = sync_ms.to_string();
    let bound = Duration::from_millis(2 * sync_ms);
    let mock = Mock::start();
    // A's clock is a minute behind, B's right: change times come from the database.
    let a = Gateway::start(
        &backend,
        &[
            ("GATEWAY__CLUSTER__SYNC_INTERVAL_MS", &sync),
            ("GATEWAY_CLOCK_SKEW_MS", "-60000"),
        ],
    );
    let b = Gateway::start(&backend, &[("GATEWAY__CLUSTER__SYNC_INTERVAL_MS", &sync)]);
    let token = a.token(&backend, &["--name", "app"]);

    // A provider and key added through A serve calls on B.
    a.add_provider(
        "shared",
        &mock,
        json!(["gpt-4o-mini"]),
        &["sk-cluster-key-0001"],
    )
    .await;
    let took = time_until(Duration::from_secs(5), || async {
        b.post("/v1/chat/completions", &token, &chat("gpt-4o-mini"))
            .await
            .0
            == 200
    })
    .await
    .expect("B never served the provider added on A");
    assert!(
        took <= bound,
        "provider reached B after {took:?} (bound {bound:?})"
    );

    // A redirect put on A applies on B.
    let (s, _) = a
        .admin_send(
            "PUT",
            "/admin/model-redirects",
            &json!({"source": "old-name", "target": "gpt-4o-mini"}),
        )
        .await;
    assert_eq!(s, 200);
    let took = time_until(Duration::from_secs(5), || async {
        b.post("/v1/chat/completions", &token, &chat("old-name"))
            .await
            .0
            == 200
    })
    .await
    .expect("B never applied the redirect put on A");
    assert!(took <= bound, "redirect reached B after {took:?}");

    // A token disabled on A (whose clock is behind) is refused by B.
    let (_, list) = a.get("/admin/tokens", &a.admin).await;
    let id = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "app")
        .unwrap()["id"]
        .clone();
    let (s, _) = a
        .admin_send(
            "PATCH",
            &format!("/admin/tokens/{id}"),
            &json!({"enabled": false}),
        )
        .await;
    assert_eq!(s, 200);
    let took = time_until(Duration::from_secs(5), || async {
        b.post("/v1/chat/completions", &token, &chat("gpt-4o-mini"))
            .await
            .0
            == 401
    })
    .await
    .expect("B still accepts a token disabled on A");
    assert!(took <= bound, "disable reached B after {took:?}");

    // And the other way round: enabled again on B, accepted by A.
    let (s, _) = b
        .admin_send(
            "PATCH",
            &format!("/admin/tokens/{id}"),
            &json!({"enabled": true}),
        )
        .await;
    assert_eq!(s, 200);
    let took = time_until(Duration::from_secs(5), || async {
        a.post("/v1/chat/completions", &token, &chat("gpt-4o-mini"))
            .await
            .0
            == 200
    })
    .await
    .expect("A never saw the token enabled on B");
    assert!(took <= bound, "enable reached A after {took:?}");
    backend.drop_database().await;
}

/// A key cooled down on one instance is skipped by the other within the bound.
#[actix_web::test]
async fn a_key_cooled_on_one_instance_is_skipped_by_another() {
    let Some(backend) = postgres().await else {
        return;
    };
    let sync_ms = 300u64;
    let sync = sync_ms.to_string();
    let mock = Mock::start();
    let a = Gateway::start(&backend, &[("GATEWAY__CLUSTER__SYNC_INTERVAL_MS", &sync)]);
    let b = Gateway::start(
        &backend,
        &[
            ("GATEWAY__CLUSTER__SYNC_INTERVAL_MS", &sync),
            ("GATEWAY_CLOCK_SKEW_MS", "45000"),
        ],
    );
    let (bad, good) = ("sk-cluster-bad-0001", "sk-cluster-good-001");
    a.add_provider("shared", &mock, json!(["m"]), &[bad, good])
        .await;
    let token = a.token(&backend, &["--name", "app"]);
    // Both instances know the provider before the key goes bad.
    for gw in [&a, &b] {
        let ok = time_until(Duration::from_secs(5), || async {
            gw.post("/v1/chat/completions", &token, &chat("m")).await.0 == 200
        })
        .await;
        assert!(ok.is_some());
    }
    // The bad key answers 429 with Retry-After: 60 s; A cools it after one call.
    mock.fault(json!({"key": bad, "status": 429, "retry_after": 60}))
        .await;
    let before = mock.calls_for(bad).await;
    while mock.calls_for(bad).await == before {
        let (s, body) = a.post("/v1/chat/completions", &token, &chat("m")).await;
        assert_eq!(s, 200, "{body}");
    }
    actix_web::rt::time::sleep(Duration::from_millis(2 * sync_ms)).await;
    // B (whose clock is 45 s ahead) no longer tries it: every call goes to the good key.
    let seen = mock.calls_for(bad).await;
    for _ in 0..10 {
        let (s, body) = b.post("/v1/chat/completions", &token, &chat("m")).await;
        assert_eq!(s, 200, "{body}");
    }
    assert_eq!(
        mock.calls_for(bad).await,
        seen,
        "B called the key A had cooled down"
    );
    backend.drop_database().await;
}

/// kill -9 loses at most the request-log rows (and the usage they carry) written in the
/// last flush interval; what was flushed is whole, and counters agree with the log.
#[actix_web::test]
async fn kill_9_loses_at_most_the_last_flush_interval() {
    for backend in Backend::all().await {
        let flush_ms = 300u64;
        let flush = flush_ms.to_string();
        let (_mock, mut gw) = gateway_with_mock(
            &backend,
            &[("GATEWAY__ACCOUNTING__FLUSH_INTERVAL_MS", &flush)],
            json!(["m"]),
            &["sk-crash-key-000001"],
        )
        .await;
        let token = gw.token(&backend, &["--name", "crash"]);
        for _ in 0..5 {
            assert_eq!(
                gw.post("/v1/chat/completions", &token, &chat("m")).await.0,
                200
            );
        }
        // Older than two flush intervals: must be stored.
        actix_web::rt::time::sleep(Duration::from_millis(3 * flush_ms)).await;
        for _ in 0..5 {
            assert_eq!(
                gw.post("/v1/chat/completions", &token, &chat("m")).await.0,
                200
            );
        }
        gw.kill();
        let db = backend.connect().await;
        let q = |sql: &str| Statement::from_string(db.get_database_backend(), sql.to_string());
        let row = db
            .query_one(q("SELECT COUNT(*) AS n, CAST(COALESCE(SUM(total_tokens), 0) AS BIGINT) AS t FROM request_logs WHERE token_id IS NOT NULL"))
            .await
            .unwrap()
            .unwrap();
        let (rows, logged): (i64, i64) =
            (row.try_get("", "n").unwrap(), row.try_get("", "t").unwrap());
        assert!((5..=10).contains(&rows), "{rows} rows after kill -9");
        let counters = db
            .query_one(q("SELECT CAST(SUM(total_tokens) AS BIGINT) AS t, CAST(SUM(request_count) AS BIGINT) AS r FROM tokens"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            counters.try_get::<i64>("", "t").unwrap(),
            logged,
            "counters and log disagree"
        );
        assert_eq!(counters.try_get::<i64>("", "r").unwrap(), rows);
        backend.drop_database().await;
    }
}
