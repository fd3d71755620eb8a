//! The admin plane from the outside: the terminal admin walkthrough, request-log pages,
//! the metrics summary and distribution, retention, the audit trail.

use std::time::Duration;

use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

use crate::harness::*;

/// `gateway-zero admin ARGS` with a session file in the test's directory; (ok, stdout, stderr).
fn admin_cli(gw: &Gateway, backend: &Backend, args: &[&str]) -> (bool, String, String) {
    let session = backend.dir.path().join("session.json");
    let session = session.display().to_string();
    let mut all = vec!["admin", "--session-file", session.as_str()];
    all.extend_from_slice(args);
    gw.cli(backend, &all)
}

fn admin_json(gw: &Gateway, backend: &Backend, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let (ok, stdout, stderr) = admin_cli(gw, backend, &all);
    assert!(ok, "admin {args:?} failed: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// The walkthrough of the contract (section 8) from the terminal admin alone.
#[actix_web::test]
async fn terminal_admin_walkthrough() {
    for backend in Backend::all().await {
        let mock = Mock::start();
        // No bootstrap token: the Ed25519 key file is the only admin credential.
        let env = Gateway::env_for(&backend, &[]);
        let gw = Gateway::start_with_env(&backend, env, String::new());

        // Login: the session token, only it, on stdout; the session file is 0600.
        let (ok, stdout, stderr) = admin_cli(&gw, &backend, &["login", "--url", &gw.base]);
        assert!(ok, "login failed: {stderr}");
        let session = stdout.trim();
        assert!(
            session.starts_with("gzs-") && !session.contains('\n'),
            "{stdout:?}"
        );
        let file = backend.dir.path().join("session.json");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        // Provider and key.
        let secret = "sk-walkthrough-secret-key-4242";
        let p = admin_json(
            &gw,
            &backend,
            &[
                "providers",
                "create",
                "my-openai",
                "--api-type",
                "OpenAI",
                "--base-url",
                &mock.v1(),
            ],
        );
        assert_eq!(p["name"], "my-openai");
        assert_eq!(p["api_type"], "openai");
        let k = admin_json(
            &gw,
            &backend,
            &[
                "keys",
                "create",
                "my-openai",
                "--key",
                secret,
                "--description",
                "My first key",
            ],
        );
        assert_eq!(k["masked_key"], "sk-w****4242");
        let key_id = k["id"].as_i64().unwrap().to_string();
        let shown = admin_json(&gw, &backend, &["keys", "show", "my-openai", &key_id]);
        assert_eq!(shown["description"], "My first key");

        // A client token, then chat with it like curl would (whole and streamed).
        let t = admin_json(
            &gw,
            &backend,
            &[
                "tokens",
                "create",
                "--name",
                "app",
                "--max-tokens",
                "100000",
            ],
        );
        let token = t["token"].as_str().unwrap().to_string();
        let token_id = t["id"].as_i64().unwrap().to_string();
        let (s, body) = gw
            .post(
                "/v1/chat/completions",
                &token,
                &chat("my-openai/gpt-4o-mini"),
            )
            .await;
        assert_eq!(s, 200, "{body}");
        let mut stream = chat("gpt-4o-mini");
        stream["stream"] = json!(true);
        let (s, text) = gw.chat_text(&token, &stream).await;
        assert_eq!(s, 200);
        assert!(text.contains("[DONE]"));

        // Usage, logs, summary and distribution, all from the terminal.
        let shown = admin_json(&gw, &backend, &["tokens", "show", &token_id]);
        assert_eq!(shown["requests"], 2, "{shown}");
        assert!(shown["total_tokens"].as_i64().unwrap() > 0);
        let logs = admin_json(&gw, &backend, &["logs", "list", "--token-id", &token_id]);
        let rows = logs["data"].as_array().unwrap();
        assert_eq!(rows.len(), 2, "{logs}");
        assert!(rows
            .iter()
            .all(|r| r["provider"] == "my-openai" && r["status"] == "success"));
        let one = admin_json(&gw, &backend, &["logs", "show", &rows[0]["id"].to_string()]);
        assert_eq!(one["request_id"], rows[0]["request_id"]);
        let summary = admin_json(
            &gw,
            &backend,
            &["metrics", "show", "--window-minutes", "60"],
        );
        assert_eq!(summary["requests"], 2, "{summary}");
        assert_eq!(summary["errors"], 0);
        assert_eq!(summary["top_providers"][0]["key"], "my-openai");
        let dist = admin_json(&gw, &backend, &["metrics", "list"]);
        assert_eq!(dist["items"][0]["model"], "gpt-4o-mini", "{dist}");
        assert_eq!(dist["items"][0]["requests"], 2);

        // Redirects and prices: create, show, delete.
        admin_json(
            &gw,
            &backend,
            &[
                "redirects",
                "create",
                "--source",
                "gpt-4",
                "--target",
                "gpt-4o-mini",
            ],
        );
        let r = admin_json(&gw, &backend, &["redirects", "show", "gpt-4"]);
        assert_eq!(r["target"], "gpt-4o-mini");
        admin_json(&gw, &backend, &["redirects", "delete", "--source", "gpt-4"]);
        let (ok, _, stderr) = admin_cli(&gw, &backend, &["redirects", "show", "gpt-4"]);
        assert!(!ok && stderr.contains("404"), "{stderr}");
        admin_json(
            &gw,
            &backend,
            &[
                "prices", "create", "--model", "my-model", "--input", "1.5", "--output", "2",
            ],
        );
        let price = admin_json(&gw, &backend, &["prices", "show", "my-model"]);
        assert_eq!(price["input_per_million"], 1.5);
        admin_json(&gw, &backend, &["prices", "delete", "--model", "my-model"]);

        // Tables for people.
        let (ok, table, _) = admin_cli(&gw, &backend, &["providers", "list"]);
        assert!(ok);
        assert!(
            table.starts_with("NAME") && table.contains("my-openai"),
            "{table}"
        );

        // The audit trail names the key, has before/after, never the upstream secret.
        let audit = admin_json(&gw, &backend, &["audit", "list", "--limit", "100"]);
        let text = audit.to_string();
        assert!(!text.contains(secret), "secret in the audit trail");
        assert!(!text.contains(&token), "token in the audit trail");
        let entries = audit["data"].as_array().unwrap();
        let provider_created = entries
            .iter()
            .find(|e| e["action"] == "create" && e["resource"] == "provider/my-openai")
            .expect("provider creation audited");
        assert!(provider_created["actor"]
            .as_str()
            .unwrap()
            .starts_with("key:"));
        assert_eq!(provider_created["after"]["base_url"], mock.v1());
        let redirect_deleted = entries
            .iter()
            .find(|e| e["action"] == "delete" && e["resource"] == "redirect/gpt-4")
            .expect("redirect deletion audited");
        assert_eq!(redirect_deleted["before"]["target"], "gpt-4o-mini");
        assert!(redirect_deleted["after"].is_null());

        // Logout: the session is gone and the next command fails with one line.
        let (ok, _, _) = admin_cli(&gw, &backend, &["logout"]);
        assert!(ok);
        let (ok, stdout, stderr) =
            admin_cli(&gw, &backend, &["providers", "list", "--url", &gw.base]);
        assert!(!ok && stdout.is_empty(), "{stdout}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        // With --token (an admin token) the terminal admin works without a session.
        let admin_token = gw.token(&backend, &["--name", "root", "--admin"]);
        let (ok, _, stderr) = admin_cli(
            &gw,
            &backend,
            &["--url", &gw.base, "--token", &admin_token, "tokens", "list"],
        );
        assert!(ok, "{stderr}");
        backend.drop_database().await;
    }
}

/// Log pages: newest first, every filter, a cursor that walks each row exactly once, the
/// client's x-request-id kept.
#[actix_web::test]
async fn request_log_pages_filter_and_walk() {
    for backend in Backend::all().await {
        let (mock, gw) = gateway_with_mock(
            &backend,
            &[],
            json!(["good", "bad"]),
            &["sk-log-key-000001"],
        )
        .await;
        let a = gw.token(&backend, &["--name", "a"]);
        let b = gw.token(&backend, &["--name", "b"]);
        mock.fault(json!({"model": "bad", "status": 400, "message": "nope"}))
            .await;
        for _ in 0..5 {
            assert_eq!(
                gw.post("/v1/chat/completions", &a, &chat("good")).await.0,
                200
            );
        }
        for _ in 0..3 {
            assert_eq!(
                gw.post("/v1/chat/completions", &b, &chat("bad")).await.0,
                400
            );
        }
        // The client's own request id is kept; a hostile one is replaced.
        let mut req = client()
            .post(gw.url("/v1/chat/completions"))
            .insert_header(("authorization", format!("Bearer {a}")))
            .insert_header(("x-request-id", "client-trace-42"));
        let resp = req.send_json(&chat("good")).await.unwrap();
        assert_eq!(
            resp.headers().get("x-request-id").unwrap(),
            "client-trace-42"
        );
        req = client()
            .post(gw.url("/v1/chat/completions"))
            .insert_header(("authorization", format!("Bearer {a}")))
            .insert_header(("x-request-id", "evil id\twith spaces"));
        let resp = req.send_json(&chat("good")).await.unwrap();
        let generated = resp
            .headers()
            .get("x-request-id")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert!(generated.starts_with("req_"), "{generated}");

        let page = |q: &str| {
            let url = gw.url(&format!("/admin/logs/requests{q}"));
            let admin = gw.admin.clone();
            async move { get_json(&url, Some(&admin)).await }
        };
        let (s, all) = page("?limit=1000").await;
        assert_eq!(s, 200, "{all}");
        let rows = all["data"].as_array().unwrap();
        assert_eq!(rows.len(), 10);
        assert!(all["next_cursor"].is_null());
        assert!(rows.iter().any(|r| r["request_id"] == "client-trace-42"));
        let times: Vec<&str> = rows
            .iter()
            .map(|r| r["created_at"].as_str().unwrap())
            .collect();
        let mut sorted = times.clone();
        sorted.sort_by(|x, y| y.cmp(x));
        assert_eq!(times, sorted, "newest first");

        // A cursor walk in pages of 3 sees every row once, in the same order.
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let q = match &cursor {
                Some(c) => format!("?limit=3&cursor={c}"),
                None => "?limit=3".into(),
            };
            let (_, p) = page(&q).await;
            seen.extend(
                p["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["id"].as_i64().unwrap()),
            );
            match p["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
        assert_eq!(seen, ids);

        let count = |v: &Value| v["data"].as_array().unwrap().len();
        assert_eq!(count(&page("?status=error").await.1), 3);
        assert_eq!(count(&page("?status=success").await.1), 7);
        assert_eq!(count(&page("?model=bad").await.1), 3);
        assert_eq!(count(&page("?provider=mock&status=success").await.1), 7);
        let token_b = rows.iter().find(|r| r["model"] == "bad").unwrap()["token_id"].clone();
        assert_eq!(count(&page(&format!("?token_id={token_b}")).await.1), 3);
        assert_eq!(count(&page("?provider=nobody").await.1), 0);
        let oldest = rows.last().unwrap()["created_at"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(count(&page(&format!("?until={oldest}")).await.1), 0);
        assert_eq!(count(&page(&format!("?since={oldest}")).await.1), 10);
        let err = rows.iter().find(|r| r["status"] == "error").unwrap();
        assert_eq!(err["status_code"], 400);
        assert_eq!(err["error_message"], "nope");

        for bad in [
            "?limit=0",
            "?limit=1001",
            "?cursor=xyz",
            "?status=maybe",
            "?since=yesterday",
            "?token_id=x",
        ] {
            let (s, body) = page(bad).await;
            assert_error(s, &body, 400, "invalid_request_error", None);
        }
        let (s, _) = gw.get("/admin/logs/requests/999999", &gw.admin).await;
        assert_eq!(s, 404);
        backend.drop_database().await;
    }
}

/// The summary and distribution add up to the calls made, over the window asked.
#[actix_web::test]
async fn summary_and_distribution_add_up() {
    for backend in Backend::all().await {
        let (mock, gw) = gateway_with_mock(
            &backend,
            &[],
            json!(["m1", "m2", "broken"]),
            &["sk-sum-key-000001"],
        )
        .await;
        let token = gw.token(&backend, &["--name", "s"]);
        mock.fault(json!({"model": "broken", "status": 500})).await;
        let mut tokens = 0;
        for (model, n) in [("m1", 4), ("m2", 2)] {
            for _ in 0..n {
                let (s, body) = gw.post("/v1/chat/completions", &token, &chat(model)).await;
                assert_eq!(s, 200);
                tokens += body["usage"]["total_tokens"].as_i64().unwrap();
            }
        }
        let (s, _) = gw
            .post("/v1/chat/completions", &token, &chat("broken"))
            .await;
        assert_eq!(s, 502);
        let (s, sum) = gw
            .get("/admin/metrics/summary?window_minutes=5", &gw.admin)
            .await;
        assert_eq!(s, 200, "{sum}");
        assert_eq!(sum["requests"], 7, "{sum}");
        assert_eq!(sum["success"], 6);
        assert_eq!(sum["errors"], 1);
        assert!((sum["error_rate"].as_f64().unwrap() - 1.0 / 7.0).abs() < 1e-9);
        assert_eq!(sum["total_tokens"], tokens);
        assert!(sum["avg_latency_ms"].as_f64().is_some());
        assert!(
            sum["p95_latency_ms"].as_f64().unwrap()
                >= sum["avg_latency_ms"].as_f64().unwrap() * 0.5
        );
        assert!(sum["avg_first_token_ms"].as_f64().is_some());
        assert_eq!(sum["top_models"][0]["key"], "m1");
        assert_eq!(sum["top_models"][0]["requests"], 4);
        assert_eq!(sum["top_tokens"].as_array().unwrap().len(), 1);

        let (_, dist) = gw
            .get(
                "/admin/metrics/models-distribution?window_minutes=5",
                &gw.admin,
            )
            .await;
        let items: Vec<(String, i64)> = dist["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["model"].as_str().unwrap().to_string(),
                    i["requests"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            items,
            [("m1".into(), 4), ("m2".into(), 2), ("broken".into(), 1)]
        );
        let total: i64 = dist["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["total_tokens"].as_i64().unwrap())
            .sum();
        assert_eq!(total, tokens);

        // History two hours back, as the writer leaves it: the same 100 calls in the hourly
        // and in the minute rollups. A long window reads whole hours from the hourly table
        // (counted once); a short one does not reach them.
        let db = backend.connect().await;
        let kind = db.get_database_backend();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let hour = now - now.rem_euclid(3_600_000) - 2 * 3_600_000;
        for sql in [
            format!("INSERT INTO request_rollups_hourly (bucket, provider, model, requests, errors, total_tokens) VALUES ({hour}, 'mock', 'old-model', 100, 10, 5000)"),
            format!("INSERT INTO request_rollups (bucket, provider, model, requests, errors, total_tokens) VALUES ({}, 'mock', 'old-model', 60, 6, 3000), ({}, 'mock', 'old-model', 40, 4, 2000)", hour + 60_000, hour + 1_800_000),
            // Slot 53 holds about 9.5–11.3 s.
            format!("INSERT INTO latency_rollups_hourly (bucket, slot, count) VALUES ({hour}, 53, 100)"),
            format!("INSERT INTO latency_rollups (bucket, slot, count) VALUES ({}, 53, 100)", hour + 60_000),
        ] {
            db.execute(Statement::from_string(kind, sql)).await.unwrap();
        }
        let (_, long) = gw
            .get("/admin/metrics/summary?window_minutes=240", &gw.admin)
            .await;
        assert_eq!(long["requests"], 107, "{long}");
        assert_eq!(long["errors"], 11);
        assert_eq!(long["total_tokens"], tokens + 5000);
        assert!(long["p95_latency_ms"].as_f64().unwrap() > 9000.0, "{long}");
        assert_eq!(long["top_models"][0]["key"], "old-model");
        let (_, dist) = gw
            .get(
                "/admin/metrics/models-distribution?window_minutes=240",
                &gw.admin,
            )
            .await;
        assert_eq!(dist["items"][0]["model"], "old-model");
        assert_eq!(dist["items"][0]["requests"], 100);
        let (_, short) = gw
            .get("/admin/metrics/summary?window_minutes=30", &gw.admin)
            .await;
        assert_eq!(short["requests"], 7, "{short}");

        for bad in ["0", "525601", "x"] {
            let (s, body) = gw
                .get(
                    &format!("/admin/metrics/summary?window_minutes={bad}"),
                    &gw.admin,
                )
                .await;
            assert_error(s, &body, 400, "invalid_request_error", None);
        }
        backend.drop_database().await;
    }
}

/// Rows past `logging.retention_days` are deleted in batches; newer rows and their
/// rollups stay.
#[actix_web::test]
async fn retention_deletes_old_rows_in_batches() {
    for backend in Backend::all().await {
        let gw = Gateway::start(
            &backend,
            &[
                ("GATEWAY__LOGGING__RETENTION_DAYS", "30"),
                ("GATEWAY__LOGGING__RETENTION_INTERVAL_SECS", "1"),
                ("GATEWAY__LOGGING__RETENTION_BATCH_ROWS", "7"),
            ],
        );
        let db = backend.connect().await;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let day = 86_400_000i64;
        let insert = |at: i64, n: usize| {
            let values: Vec<String> = (0..n)
                .map(|i| format!("({at}, 'old-{at}-{i}', 'chat.completions', false, 200, 'success', 5, 1, false)"))
                .collect();
            format!(
                "INSERT INTO request_logs (created_at, request_id, endpoint, stream, status_code, status, latency_ms, attempts, usage_estimated) VALUES {}",
                values.join(", ")
            )
        };
        let backend_kind = db.get_database_backend();
        for sql in [
            insert(now - 40 * day, 30),
            insert(now - 29 * day, 4),
            format!(
                "INSERT INTO request_rollups (bucket, requests) VALUES ({}, 30), ({}, 4)",
                now - 40 * day,
                now - 29 * day
            ),
        ] {
            db.execute(Statement::from_string(backend_kind, sql))
                .await
                .unwrap();
        }
        let counts = || async {
            let q = |sql: &str| Statement::from_string(backend_kind, sql.to_string());
            let logs = db
                .query_one(q("SELECT COUNT(*) AS n FROM request_logs"))
                .await
                .unwrap()
                .unwrap();
            let rollups = db
                .query_one(q("SELECT COUNT(*) AS n FROM request_rollups"))
                .await
                .unwrap()
                .unwrap();
            (
                logs.try_get::<i64>("", "n").unwrap(),
                rollups.try_get::<i64>("", "n").unwrap(),
            )
        };
        let done = eventually(Duration::from_secs(10), || async {
            let c = counts().await;
            (c == (4, 1)).then_some(c)
        })
        .await;
        assert_eq!(done, Some((4, 1)), "old rows left: {:?}", counts().await);
        let logged = eventually(Duration::from_secs(2), || async {
            gw.logs().contains("retention: deleted ").then_some(())
        })
        .await;
        assert!(logged.is_some(), "{}", gw.logs());
        backend.drop_database().await;
    }
}
