//! Issue 24's small doors, each through the real binaries: settings that would leave a
//! door open are refused or mean what they say, files are the owner's, a DELETE wins over
//! an insert in flight, stored responses are bounded per token, the terminal admin keeps
//! credentials out of argv and control characters off the terminal, and ciphertexts open
//! only where they were sealed (old ones too).

use std::process::{Command, Stdio};
use std::time::Duration;

use gateway_zero::secrets::MasterKey;
use gateway_zero::store::responses::{self as stored, StoredResponse};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::harness::*;

fn master() -> MasterKey {
    MasterKey::from_base64(&master_key()).unwrap()
}

#[actix_web::test]
async fn an_empty_metrics_token_is_refused_at_start() {
    let backend = Backend::sqlite();
    let mut env = Gateway::env_for(&backend, &[("GATEWAY__SERVER__METRICS_TOKEN", "")]);
    env.push(("GATEWAY__SERVER__METRICS_TOKEN".into(), "  ".into()));
    let out = Command::new(GATEWAY_BIN)
        .current_dir(backend.dir.path())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("metrics_token"), "{stderr}");
}

#[actix_web::test]
async fn the_database_files_are_the_owners_alone() {
    use std::os::unix::fs::PermissionsExt;
    let backend = Backend::sqlite();
    // An older database, created 0644, is tightened too.
    let db_path = backend.dir.path().join("gateway.db");
    std::fs::write(&db_path, b"").unwrap();
    std::fs::set_permissions(&db_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (_mock, gw) =
        gateway_with_mock(&backend, &[], json!(["gpt-4o"]), &["sk-perm-000001"]).await;
    let (status, _) = gw
        .post("/v1/chat/completions", &gw.admin, &chat("gpt-4o"))
        .await;
    assert_eq!(status, 200);
    for name in ["gateway.db", "gateway.db-wal", "gateway.db-shm"] {
        let path = backend.dir.path().join(name);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name}: {mode:o}");
    }
}

#[actix_web::test]
async fn retention_zero_keeps_every_stored_response() {
    let backend = Backend::sqlite();
    // A first start creates the schema; an ancient response is then put in.
    let mut gw = Gateway::start(&backend, &[]);
    gw.kill();
    let db = backend.connect().await;
    let ancient = std::sync::Arc::new(StoredResponse {
        id: "resp_ancient".into(),
        token_id: 1,
        previous_id: None,
        input: "[]".into(),
        response: "{\"id\":\"resp_ancient\",\"output\":[]}".into(),
        created_at: 1_000,
    });
    stored::insert_many(&db, &master(), &[ancient])
        .await
        .unwrap();
    let gw = Gateway::start(&backend, &[("GATEWAY__RESPONSES__RETENTION_DAYS", "0")]);
    // The first sweep runs 5 s after start.
    actix_web::rt::time::sleep(Duration::from_secs(7)).await;
    assert!(stored::get(&db, &master(), "resp_ancient")
        .await
        .unwrap()
        .is_some());
    drop(gw);
}

#[actix_web::test]
async fn a_delete_wins_over_an_insert_in_flight() {
    for backend in Backend::all().await {
        let gw = Gateway::start(&backend, &[]);
        let db = backend.connect().await;
        let record = |id: &str| {
            std::sync::Arc::new(StoredResponse {
                id: id.into(),
                token_id: 1,
                previous_id: None,
                input: "[]".into(),
                response: format!("{{\"id\":\"{id}\",\"output\":[]}}"),
                created_at: gateway_zero::time::now_ms(),
            })
        };
        // Deleted (on any instance) before the insert landed: it never appears.
        assert!(!stored::delete(&db, "resp_race", 1).await.unwrap());
        stored::insert_many(&db, &master(), &[record("resp_race")])
            .await
            .unwrap();
        assert!(stored::get(&db, &master(), "resp_race")
            .await
            .unwrap()
            .is_none());
        // Landed, then deleted: gone, and the answer says it was there.
        stored::insert_many(&db, &master(), &[record("resp_kept")])
            .await
            .unwrap();
        assert!(stored::delete(&db, "resp_kept", 1).await.unwrap());
        assert!(stored::get(&db, &master(), "resp_kept")
            .await
            .unwrap()
            .is_none());
        // Another token's delete neither deletes nor blocks it.
        stored::insert_many(&db, &master(), &[record("resp_other")])
            .await
            .unwrap();
        assert!(!stored::delete(&db, "resp_other", 2).await.unwrap());
        assert!(stored::get(&db, &master(), "resp_other")
            .await
            .unwrap()
            .is_some());
        // ... nor before it landed: another token's tombstone does not stand in the owner's
        // way (CI once lost a response this way: bob's DELETE of alice's fresh id).
        assert!(!stored::delete(&db, "resp_foreign", 2).await.unwrap());
        stored::insert_many(&db, &master(), &[record("resp_foreign")])
            .await
            .unwrap();
        let kept = stored::get(&db, &master(), "resp_foreign").await.unwrap();
        assert_eq!(kept.map(|r| r.token_id), Some(1));
        // The owner's own tombstone still wins.
        assert!(!stored::delete(&db, "resp_own", 1).await.unwrap());
        stored::insert_many(&db, &master(), &[record("resp_own")])
            .await
            .unwrap();
        assert!(stored::get(&db, &master(), "resp_own")
            .await
            .unwrap()
            .is_none());
        drop(gw);
        backend.drop_database().await;
    }
}

#[actix_web::test]
async fn stored_responses_have_a_quota_and_store_what_went_upstream() {
    let backend = Backend::sqlite();
    let (_mock, gw) = three_providers(&backend).await;
    let (_, token) = token_with(&gw, json!({})).await;
    // A reasoning item with 1 MB of OpenAI's encrypted content, sent to a provider the
    // call is translated for: the upstream never sees it, the store does not keep it.
    let opaque = "Q".repeat(1 << 20);
    let body = json!({"model": "gpt-4o", "input": [
        {"type": "reasoning", "summary": [], "encrypted_content": opaque},
        {"role": "user", "content": "hi", "junk": "J".repeat(100_000)}]});
    let (status, answer) = gw.post("/v1/responses", &token, &body).await;
    assert_eq!(status, 200, "{answer}");
    let id = answer["id"].as_str().unwrap().to_string();
    let items = eventually(Duration::from_secs(5), || async {
        let (s, v) = gw
            .get(&format!("/v1/responses/{id}/input_items"), &token)
            .await;
        (s == 200).then_some(v)
    })
    .await
    .unwrap();
    let text = items.to_string();
    assert!(text.len() < 10_000, "{} bytes kept", text.len());
    assert!(text.contains("\"hi\"") && !text.contains("QQQQ") && !text.contains("JJJJ"));

    // A token's stored bytes are capped: past the quota a call that stores is refused.
    let backend = Backend::sqlite();
    let (_mock, gw) = gateway_with_mock(
        &backend,
        &[("GATEWAY__RESPONSES__MAX_STORED_BYTES_PER_TOKEN", "20000")],
        json!(["gpt-*"]),
        &["sk-quota-00001"],
    )
    .await;
    let (_, token) = token_with(&gw, json!({})).await;
    let body = json!({"model": "gpt-4o", "input": "x".repeat(6_000)});
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let (status, err) = gw.post("/v1/responses", &token, &body).await;
        statuses.push(status.as_u16());
        if status == 429 {
            assert_eq!(err["error"]["code"], "stored_responses_quota", "{err}");
            break;
        }
        // Each write lands before the next call counts it.
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    let mut unstored = body.clone();
    unstored["store"] = json!(false);
    let (status, _) = gw.post("/v1/responses", &token, &unstored).await;
    assert_eq!(status, 200, "store: false still works");
}

#[actix_web::test]
async fn the_terminal_admin_keeps_credentials_and_control_characters_out() {
    let backend = Backend::sqlite();
    let gw = Gateway::start(&backend, &[]);
    let hostile = "evil\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}name";
    let (status, _) = gw
        .admin_send("POST", "/admin/tokens", &json!({"name": hostile}))
        .await;
    assert_eq!(status, 201);
    // The token from standard input; nothing on the command line.
    let mut child = Command::new(GATEWAY_BIN)
        .current_dir(backend.dir.path())
        .envs(gw.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args([
            "admin",
            "--url",
            &gw.base,
            "--token-stdin",
            "tokens",
            "list",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    writeln!(child.stdin.take().unwrap(), "{}", gw.admin).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("evil\\x1b]0;pwned\\x07"), "{stdout}");
    assert!(
        !stdout
            .chars()
            .any(|c| c == '\u{1b}' || c == '\u{7}' || c == '\u{9b}'),
        "{stdout:?}"
    );
    // The database-side list too.
    let (ok, stdout, _) = gw.cli(&backend, &["token", "list"]);
    assert!(ok && stdout.contains("evil\\x1b"), "{stdout}");
    assert!(!stdout.contains('\u{1b}'));
    // --token still works, with a warning.
    let (ok, _, stderr) = gw.cli(
        &backend,
        &[
            "admin", "--url", &gw.base, "--token", &gw.admin, "tokens", "list",
        ],
    );
    assert!(ok && stderr.contains("--token-stdin"), "{stderr}");
}

#[actix_web::test]
async fn ciphertexts_open_only_where_they_were_sealed_and_old_ones_still_open() {
    for backend in Backend::all().await {
        let (mock, mut gw) =
            gateway_with_mock(&backend, &[], json!(["gpt-4o"]), &["sk-seal-key-0001"]).await;
        let (_, token) = token_with(&gw, json!({})).await;
        let (status, answer) = gw
            .post(
                "/v1/responses",
                &token,
                &json!({"model": "gpt-4o", "input": "hello"}),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
        let id = answer["id"].as_str().unwrap().to_string();
        let (status, _) = eventually(Duration::from_secs(5), || async {
            let r = gw.get(&format!("/v1/responses/{id}"), &token).await;
            (r.0 == 200).then_some(r)
        })
        .await
        .unwrap();
        assert_eq!(status, 200);
        let db = backend.connect().await;
        let backend_kind = db.get_database_backend();
        let one = |sql: String| Statement::from_string(backend_kind, sql);
        // A database writer moves the upstream key's ciphertext into the stored response:
        // GET does not show the key.
        let key_row = db
            .query_one(one("SELECT key_ciphertext FROM provider_keys".into()))
            .await
            .unwrap()
            .unwrap();
        let sealed: String = key_row.try_get("", "key_ciphertext").unwrap();
        assert!(sealed.starts_with("v2:"), "{sealed}");
        // The row must have landed first (until then the instance serves it from memory).
        let landed = eventually(Duration::from_secs(5), || async {
            let row = db
                .query_one(one(format!(
                    "SELECT id FROM stored_responses WHERE id = '{id}'"
                )))
                .await
                .ok()
                .flatten();
            row.map(|_| ())
        })
        .await;
        assert!(
            landed.is_some(),
            "the stored response never reached the database"
        );
        let swapped = db
            .execute(one(format!(
                "UPDATE stored_responses SET response = '{sealed}' WHERE id = '{id}'"
            )))
            .await
            .unwrap();
        assert_eq!(swapped.rows_affected(), 1);
        let (status, body) = gw.get(&format!("/v1/responses/{id}"), &token).await;
        assert_ne!(status, 200, "{body}");
        assert!(!body.to_string().contains("sk-seal"), "{body}");
        // A key written by the build before per-purpose keys still serves, and is re-sealed
        // at the next start.
        gw.stop();
        let legacy = master().encrypt_legacy("sk-seal-key-0001");
        db.execute(one(format!(
            "UPDATE provider_keys SET key_ciphertext = '{legacy}'"
        )))
        .await
        .unwrap();
        let gw = Gateway::start_with_env(&backend, gw.env.clone(), gw.admin.clone());
        let (status, answer) = gw
            .post("/v1/chat/completions", &gw.admin, &chat("gpt-4o"))
            .await;
        assert_eq!(status, 200, "{answer}");
        assert!(mock.calls_for("sk-seal-key-0001").await >= 1);
        let key_row = db
            .query_one(one("SELECT key_ciphertext FROM provider_keys".into()))
            .await
            .unwrap()
            .unwrap();
        let resealed: String = key_row.try_get("", "key_ciphertext").unwrap();
        assert!(resealed.starts_with("v2:"), "{resealed}");
        backend.drop_database().await;
    }
}
