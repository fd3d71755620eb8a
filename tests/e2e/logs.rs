//! Request logs: one row per call, written within a second, with no secrets.

use std::time::Duration;

use serde_json::json;

use crate::harness::*;

#[actix_web::test]
async fn every_call_gets_a_log_row_without_secrets() {
    for backend in Backend::all().await {
        let mock = Mock::start();
        let gw = Gateway::start(&backend, &[]);
        let secret = "sk-very-secret-upstream-key-9876";
        let ids = gw
            .add_provider(
                "mock",
                &mock,
                json!(["gpt-4o-mini", "bad-model"]),
                &[secret],
            )
            .await;
        let token = gw.token(&backend, &["--name", "logged"]);
        mock.fault(json!({"model": "bad-model", "status": 500}))
            .await;

        let (s1, _) = gw
            .post("/v1/chat/completions", &token, &chat("gpt-4o-mini"))
            .await;
        let (s2, _) = gw
            .post("/v1/chat/completions", &token, &chat("bad-model"))
            .await;
        let (s3, _) = gw
            .post("/v1/chat/completions", &token, &chat("unknown-model"))
            .await;
        let (s4, _) = gw
            .post("/v1/chat/completions", "gz-wrong", &chat("gpt-4o-mini"))
            .await;
        assert_eq!(
            (s1.as_u16(), s2.as_u16(), s3.as_u16(), s4.as_u16()),
            (200, 502, 404, 401)
        );

        let db = backend.connect().await;
        eventually(Duration::from_secs(1), || async {
            let rows = rows(&db).await;
            (rows.len() >= 3).then_some(rows)
        })
        .await
        .expect("3 log rows within a second");
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        let rows = self::rows(&db).await;
        assert_eq!(rows.len(), 3, "a 401 writes no row: {rows:?}");
        let ok = &rows[0];
        assert_eq!(ok.status, "success");
        assert_eq!(ok.status_code, 200);
        assert_eq!(ok.provider.as_deref(), Some("mock"));
        assert_eq!(ok.model.as_deref(), Some("gpt-4o-mini"));
        assert_eq!(ok.key_id, Some(ids[0] as i32));
        assert!(ok.token_id.is_some());
        assert_eq!(
            (ok.prompt_tokens, ok.completion_tokens, ok.total_tokens),
            (6, 8, 14)
        );
        assert!(ok.latency_ms >= 0 && ok.attempts == 1);
        let failed = &rows[1];
        assert_eq!((failed.status.as_str(), failed.status_code), ("error", 502));
        assert_eq!(
            failed.attempts, 1,
            "one key: no other to retry on: {failed:?}"
        );
        assert_eq!(rows[2].status_code, 404);

        let dump = format!("{rows:?}");
        assert!(
            !dump.contains(secret) && !dump.contains(&token),
            "secret in log rows"
        );
        let output = gw.logs();
        assert!(
            !output.contains(secret) && !output.contains(&token),
            "secret in process output"
        );
        backend.drop_database().await;
    }
}

/// Every connection of the SQLite pool commits with `synchronous=NORMAL` (the log batch may
/// run on any of them); a `PRAGMA` run once after connecting reached one connection only
/// and left the others at SQLite's `FULL` (a WAL sync on every commit).
#[actix_web::test]
async fn every_sqlite_connection_has_the_gateway_settings() {
    use gateway_zero::db::connect_url;
    use sea_orm::sqlx::{self, Row};

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/pool.db?mode=rwc", dir.path().display());
    let db = connect_url(&url, 4).await.expect("connect");
    let pool = db.get_sqlite_connection_pool();
    // Four connections at once: the pool has to open the three it does not have yet.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(pool.acquire().await.expect("a connection"));
    }
    for conn in &mut held {
        let row = |sql: &'static str| sqlx::query(sql);
        let sync: i64 = row("PRAGMA synchronous")
            .fetch_one(&mut **conn)
            .await
            .unwrap()
            .get(0);
        let fk: i64 = row("PRAGMA foreign_keys")
            .fetch_one(&mut **conn)
            .await
            .unwrap()
            .get(0);
        let journal: String = row("PRAGMA journal_mode")
            .fetch_one(&mut **conn)
            .await
            .unwrap()
            .get(0);
        assert_eq!((sync, fk, journal.as_str()), (1, 1, "wal"));
    }
}
