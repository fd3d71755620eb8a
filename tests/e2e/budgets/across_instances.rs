//! Budgets, rate limits and budget leases across instances on one Postgres, and what
//! `kill -9` may lose (contract section 7; README "Several instances on one Postgres").

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::harness::*;

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

/// Two instances, one budget: a concurrent burst on both, then calls alternating between
/// them until both refuse. Recorded usage stays within the budget (the single-instance
/// bound), holds all end, and most of the budget is usable.
#[actix_web::test]
async fn a_budget_holds_across_instances() {
    let Some(backend) = postgres().await else {
        return;
    };
    let mock = Mock::start();
    let a = Gateway::start(&backend, &[]);
    let b = Gateway::start(&backend, &[]);
    a.add_provider("shared", &mock, json!(["m"]), &["sk-budget-key-00001"])
        .await;
    let budget = 1500i64;
    let (s, created) = a
        .admin_send(
            "POST",
            "/admin/tokens",
            &json!({"name": "capped", "max_tokens": budget}),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    let token = created["token"].as_str().unwrap().to_string();
    // A model that would write 100 tokens per call, unless capped.
    let mut body = chat("m");
    body["mock"] = json!({"default_tokens": 100});
    serving(&[&a, &b], &token).await;
    // A burst on both at once…
    let burst = |gw: &Gateway| {
        let url = gw.url("/v1/chat/completions");
        let (token, body) = (token.clone(), body.clone());
        async move {
            futures::future::join_all((0..15).map(|_| send_json("POST", &url, Some(&token), &body)))
                .await
                .into_iter()
                .filter(|(s, _)| *s == 200)
                .count()
        }
    };
    let (ok_a, ok_b) = futures::join!(burst(&a), burst(&b));
    // …then one at a time, alternating, until both refuse twice in a row.
    let mut refusals = 0;
    let mut sequential = 0;
    for i in 0..200 {
        let gw = if i % 2 == 0 { &a } else { &b };
        let (s, resp) = gw.post("/v1/chat/completions", &token, &body).await;
        match s.as_u16() {
            200 => {
                refusals = 0;
                sequential += 1;
            }
            429 => {
                assert_eq!(resp["error"]["type"], "insufficient_quota", "{resp}");
                refusals += 1;
                if refusals == 4 {
                    break;
                }
                // Settled calls keep their holds until their usage is written (one flush
                // interval, 50 ms here): refusal is final only once that has passed.
                actix_web::rt::time::sleep(Duration::from_millis(150)).await;
            }
            other => panic!("{other}: {resp}"),
        }
    }
    assert_eq!(refusals, 4, "the budget never ran out");
    let db = backend.connect().await;
    let q = |sql: String| Statement::from_string(db.get_database_backend(), sql);
    let settled = eventually(Duration::from_secs(5), || async {
        let row = db
            .query_one(q(
                "SELECT total_tokens, held_tokens, \
                 (SELECT CAST(COALESCE(SUM(tokens), 0) AS BIGINT) FROM budget_holds) AS holds, \
                 (SELECT CAST(COALESCE(SUM(total_tokens), 0) AS BIGINT) FROM request_logs l WHERE l.token_id = t.id) AS logged \
                 FROM tokens t WHERE name = 'capped'"
                    .to_string(),
            ))
            .await
            .unwrap()
            .unwrap();
        let held: i64 = row.try_get("", "held_tokens").unwrap();
        let holds: i64 = row.try_get("", "holds").unwrap();
        let total: i64 = row.try_get("", "total_tokens").unwrap();
        let logged: i64 = row.try_get("", "logged").unwrap();
        (held == 0 && holds == 0 && total == logged).then_some(total)
    })
    .await
    .expect("leases are given back and counters match the log once every call is written");
    eprintln!("budget {budget}: {settled} used; burst {ok_a}+{ok_b} calls, then {sequential} one at a time");
    assert!(
        settled <= budget,
        "{settled} tokens recorded on a {budget}-token budget"
    );
    assert!(settled >= budget / 2, "only {settled} of {budget} usable");
    backend.drop_database().await;
}

/// The token's `held_tokens` and what its leases hold.
async fn held(db: &sea_orm::DatabaseConnection, name: &str) -> (i64, i64) {
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT held_tokens, (SELECT CAST(COALESCE(SUM(tokens), 0) AS BIGINT) \
                 FROM budget_holds h WHERE h.token_id = t.id) AS leased FROM tokens t WHERE name = '{name}'"
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    (
        row.try_get("", "held_tokens").unwrap(),
        row.try_get("", "leased").unwrap(),
    )
}

/// A budgeted call takes a lease; SIGTERM gives it back, and the lease of an instance
/// killed with `kill -9` stops counting after `cluster.lease_ttl_secs` — then the other
/// instance can spend the whole budget.
#[actix_web::test]
async fn leases_go_back_at_shutdown_and_expire_after_kill_9() {
    let Some(backend) = postgres().await else {
        return;
    };
    let mock = Mock::start();
    // Ticks far apart, so a lease is not given back for being idle during the test.
    let env = [
        ("GATEWAY__CLUSTER__SYNC_INTERVAL_MS", "1000"),
        ("GATEWAY__CLUSTER__LEASE_TTL_SECS", "5"),
        ("GATEWAY__CLUSTER__LISTEN", "false"),
    ];
    let mut a = Gateway::start(&backend, &env);
    let b = Gateway::start(&backend, &env);
    a.add_provider("shared", &mock, json!(["m"]), &["sk-lease-key-000001"])
        .await;
    let (s, created) = a
        .admin_send(
            "POST",
            "/admin/tokens",
            &json!({"name": "leased", "max_tokens": 100000}),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    let token = created["token"].as_str().unwrap().to_string();
    serving(&[&a, &b], &token).await;
    let db = backend.connect().await;
    let mut body = chat("m");
    body["max_tokens"] = json!(50);

    // SIGTERM: the lease A took goes back.
    let mut c = Gateway::start(&backend, &env);
    serving(&[&c], &token).await;
    let (s, resp) = c.post("/v1/chat/completions", &token, &body).await;
    assert_eq!(s, 200, "{resp}");
    let (held_now, leased) = held(&db, "leased").await;
    assert!(
        held_now > 0 && held_now == leased,
        "no lease taken: {held_now}/{leased}"
    );
    c.stop();
    let (held_after, leased) = held(&db, "leased").await;
    assert_eq!(
        (held_after, leased),
        (0, 0),
        "the lease outlived a clean shutdown"
    );

    // kill -9: A's lease keeps its slice from B until it expires.
    let (s, resp) = a.post("/v1/chat/completions", &token, &body).await;
    assert_eq!(s, 200, "{resp}");
    let (taken, _) = held(&db, "leased").await;
    assert!(taken > 0, "A took no lease");
    a.kill();
    let killed = Instant::now();
    time_until(Duration::from_secs(20), || async {
        held(&db, "leased").await == (0, 0)
    })
    .await
    .expect("the killed instance's lease never expired");
    let after = killed.elapsed();
    eprintln!("lease of {taken} tokens freed {after:?} after kill -9 (TTL 5 s)");
    assert!(
        after <= Duration::from_secs(5) + Duration::from_millis(2 * 1000 + 500),
        "freed after {after:?}: beyond TTL + 2 sync intervals"
    );
    // B can now lease all that is left.
    let (s, resp) = b.post("/v1/chat/completions", &token, &body).await;
    assert_eq!(s, 200, "{resp}");
    backend.drop_database().await;
}

/// `rpm` holds across instances: within one minute, two instances together admit at most
/// `rpm` calls of a token (each would admit `rpm` on its own).
#[actix_web::test]
async fn rpm_holds_across_instances() {
    let Some(backend) = postgres().await else {
        return;
    };
    let mock = Mock::start();
    let a = Gateway::start(&backend, &[]);
    let b = Gateway::start(&backend, &[]);
    a.add_provider("shared", &mock, json!(["m"]), &["sk-rpm-key-0000001"])
        .await;
    let token = a.token(&backend, &["--name", "paced", "--rpm", "5"]);
    serving(&[&a, &b], &token).await;
    inside_a_minute().await;
    let mut admitted = 0;
    for i in 0..12 {
        let gw = if i % 2 == 0 { &a } else { &b };
        let (s, body) = gw.post("/v1/chat/completions", &token, &chat("m")).await;
        match s.as_u16() {
            200 => admitted += 1,
            429 => assert_eq!(body["error"]["type"], "rate_limit_error", "{body}"),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(
        admitted, 5,
        "two instances admitted {admitted} calls on rpm 5"
    );
    backend.drop_database().await;
}

/// Shared rpm and tpm are leased in chunks (a sixteenth of the limit): the first call on
/// each instance takes a chunk for the calls after it, so the database counts whole chunks;
/// the cluster never admits more than the limit, and refuses at most one unspent chunk per
/// other instance early.
#[actix_web::test]
async fn shared_rate_windows_are_leased_in_chunks() {
    let Some(backend) = postgres().await else {
        return;
    };
    let mock = Mock::start();
    let a = Gateway::start(&backend, &[]);
    let b = Gateway::start(&backend, &[]);
    a.add_provider("shared", &mock, json!(["m"]), &["sk-rpm-key-0000002"])
        .await;
    let token = a.token(
        &backend,
        &["--name", "leased", "--rpm", "64", "--tpm", "100000000"],
    );
    serving(&[&a, &b], &token).await;
    inside_a_minute().await;
    let db = backend.connect().await;
    let counted = || async {
        let row = db
            .query_one(Statement::from_string(
                db.get_database_backend(),
                "SELECT COALESCE(SUM(requests), 0)::BIGINT AS n FROM rate_windows".to_string(),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    };
    // One call on each instance: each took a chunk of four requests.
    for gw in [&a, &b] {
        let (s, body) = gw.post("/v1/chat/completions", &token, &chat("m")).await;
        assert_eq!(s, 200, "{body}");
    }
    assert_eq!(counted().await, 8, "two chunks of ⌈64 / 16⌉ requests");
    let mut admitted = 2;
    for i in 0..100 {
        let gw = if i % 2 == 0 { &a } else { &b };
        let (s, body) = gw.post("/v1/chat/completions", &token, &chat("m")).await;
        match s.as_u16() {
            200 => admitted += 1,
            429 => {
                assert_eq!(body["error"]["type"], "rate_limit_error", "{body}");
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert!(
        (60..=64).contains(&admitted),
        "two instances admitted {admitted} calls on rpm 64 (chunks of 4)"
    );
    assert!(counted().await <= 64, "the database counted past the limit");
    backend.drop_database().await;
}

/// Shared windows are the database's clock minutes: waits, if need be, to start well
/// inside one.
async fn inside_a_minute() {
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if now_s % 60 > 40 {
        actix_web::rt::time::sleep(Duration::from_secs(61 - now_s % 60)).await;
    }
}
