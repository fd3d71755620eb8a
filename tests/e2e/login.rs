//! The Ed25519 admin login (contract section 6), sessions and admin keys.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};

use crate::harness::*;

fn assert_login_failed(status: u16, body: &Value) {
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["type"], "authentication_error", "{body}");
    assert_eq!(body["error"]["code"], "login_failed", "{body}");
}

#[actix_web::test]
async fn login_replay_wrong_key_unknown_key_expiry_and_logout() {
    for backend in Backend::all().await {
        let gw = Gateway::start(
            &backend,
            &[
                ("GATEWAY__AUTH__CHALLENGE_TTL_SECS", "1"),
                ("GATEWAY__AUTH__SESSION_TTL_SECS", "3"),
            ],
        );
        let key = gateway_key(&backend);
        let fp = fingerprint(&key);

        // A good answer gives a session that reaches the admin API, once.
        let (s, c) = challenge(&gw, &fp).await;
        assert_eq!(s, 200, "{c}");
        let nonce = STANDARD.decode(c["nonce"].as_str().unwrap()).unwrap();
        assert_eq!(nonce.len(), 32);
        assert!(c["expires_at"].as_str().unwrap().ends_with('Z'));
        let good = answer(&c, &fp, &key);
        let (s, v) = verify(&gw, &good).await;
        assert_eq!(s, 200, "{v}");
        let session = v["session_token"].as_str().unwrap().to_string();
        assert!(session.starts_with("gzs-"));
        let (s, body) = gw.get("/providers", &session).await;
        assert_eq!(s, 200, "{body}");
        // Replayed: refused.
        let (s, body) = verify(&gw, &good).await;
        assert_login_failed(s, &body);

        // Signed with another key: refused (and the challenge is used up).
        let other = SigningKey::from_bytes(&[9u8; 32]);
        let (_, c) = challenge(&gw, &fp).await;
        let (s, wrong) = verify(&gw, &answer(&c, &fp, &other)).await;
        assert_login_failed(s, &wrong);
        let (s, body) = verify(&gw, &answer(&c, &fp, &key)).await;
        assert_login_failed(s, &body);

        // An unknown fingerprint gets the same shape of challenge and the same refusal.
        let unknown = fingerprint(&other);
        let (s, c) = challenge(&gw, &unknown).await;
        assert_eq!(s, 200, "{c}");
        let mut keys: Vec<_> = c.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["challenge_id", "expires_at", "nonce"]);
        let (s, body) = verify(&gw, &answer(&c, &unknown, &other)).await;
        assert_login_failed(s, &body);
        assert_eq!(
            body, wrong,
            "unknown key and wrong signature must look the same"
        );

        // The answer names another fingerprint than the challenge's: refused.
        let (_, c) = challenge(&gw, &unknown).await;
        let (s, body) = verify(&gw, &answer(&c, &fp, &key)).await;
        assert_login_failed(s, &body);

        // Expired challenge (TTL 1 s).
        let (_, c) = challenge(&gw, &fp).await;
        actix_web::rt::time::sleep(Duration::from_millis(1300)).await;
        let (s, body) = verify(&gw, &answer(&c, &fp, &key)).await;
        assert_login_failed(s, &body);

        // Junk: malformed fingerprints are a 400, bad signatures a 401.
        let (s, body) = challenge(&gw, "not-hex").await;
        assert_eq!(s, 400, "{body}");
        let (_, c) = challenge(&gw, &fp).await;
        let mut junk = answer(&c, &fp, &key);
        junk["signature"] = json!("%%%");
        let (s, body) = verify(&gw, &junk).await;
        assert_login_failed(s, &body);

        // A session is not a client token.
        let (s, body) = gw.get("/v1/models", &session).await;
        assert_error(s, &body, 401, "authentication_error", Some("invalid_token"));

        // Logout revokes; a second logout and any admin call are 401.
        let (s, body) =
            send_json("POST", &gw.url("/auth/logout"), Some(&session), &json!({})).await;
        assert_eq!(s, 200, "{body}");
        assert_eq!(body["revoked"], true);
        let (s, body) = gw.get("/providers", &session).await;
        assert_error(s, &body, 401, "authentication_error", Some("invalid_token"));
        let (s, _) = send_json("POST", &gw.url("/auth/logout"), Some(&session), &json!({})).await;
        assert_eq!(s, 401);
        // An admin token cannot "log out".
        let (s, _) = send_json("POST", &gw.url("/auth/logout"), Some(&gw.admin), &json!({})).await;
        assert_eq!(s, 400);

        // Sessions expire (TTL 3 s).
        let short = login(&gw, &key).await;
        assert_eq!(gw.get("/admin/tokens", &short).await.0, 200);
        actix_web::rt::time::sleep(Duration::from_millis(3200)).await;
        let (s, body) = gw.get("/admin/tokens", &short).await;
        assert_error(s, &body, 401, "authentication_error", Some("invalid_token"));

        // The trail has the logins and the logout, by key fingerprint.
        let (_, audit) = gw.get("/admin/audit?limit=100", &gw.admin).await;
        let actions: Vec<(&str, &str)> = audit["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap()))
            .collect();
        let by_key = format!("key:{fp}");
        assert!(actions.contains(&("login", by_key.as_str())), "{actions:?}");
        assert!(
            actions.contains(&("logout", by_key.as_str())),
            "{actions:?}"
        );
        let text = audit.to_string();
        assert!(
            !text.contains(&session) && !text.contains("gzs-"),
            "session token in the audit trail"
        );
        backend.drop_database().await;
    }
}

#[actix_web::test]
async fn login_attempts_are_rate_limited() {
    let backend = Backend::sqlite();
    let gw = Gateway::start(
        &backend,
        &[
            ("GATEWAY__AUTH__LOGIN_ATTEMPTS_PER_MINUTE_PER_KEY", "3"),
            ("GATEWAY__AUTH__LOGIN_ATTEMPTS_PER_MINUTE_PER_ADDRESS", "6"),
        ],
    );
    let fp = fingerprint(&gateway_key(&backend));
    for _ in 0..3 {
        assert_eq!(challenge(&gw, &fp).await.0, 200);
    }
    let (s, body) = challenge(&gw, &fp).await;
    assert_error(
        awc::http::StatusCode::from_u16(s).unwrap(),
        &body,
        429,
        "rate_limit_error",
        None,
    );
    // Other fingerprints from the same address: up to the address's limit.
    let others: Vec<String> = (1..=4u8)
        .map(|i| fingerprint(&SigningKey::from_bytes(&[i; 32])))
        .collect();
    let statuses: Vec<u16> = futures::future::join_all(others.iter().map(|f| challenge(&gw, f)))
        .await
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        2,
        "{statuses:?}"
    );
}

/// A challenge request as if forwarded by a balancer for `client`.
async fn challenge_from(gw: &Gateway, fp: &str, forwarded_for: &str) -> u16 {
    let mut resp = client()
        .post(gw.url("/auth/challenge"))
        .insert_header(("x-forwarded-for", forwarded_for))
        .send_json(&json!({"fingerprint": fp}))
        .await
        .expect("request failed");
    let _ = resp.body().await;
    resp.status().as_u16()
}

/// Behind a trusted balancer the per-address login limit counts each client's forwarded
/// address; from an untrusted peer a forged `X-Forwarded-For` changes nothing.
#[actix_web::test]
async fn the_login_limit_per_address_sees_clients_behind_a_trusted_balancer() {
    let backend = Backend::sqlite();
    let limits = [
        ("GATEWAY__AUTH__LOGIN_ATTEMPTS_PER_MINUTE_PER_KEY", "100"),
        ("GATEWAY__AUTH__LOGIN_ATTEMPTS_PER_MINUTE_PER_ADDRESS", "3"),
    ];
    let mut trusted = limits.to_vec();
    trusted.push(("GATEWAY__SERVER__TRUSTED_PROXIES", "10.0.0.0/8,127.0.0.1"));
    let gw = Gateway::start(&backend, &trusted);
    let fp = fingerprint(&gateway_key(&backend));
    // The balancer (127.0.0.1) forwards for two clients: each has its own 3 attempts; a
    // client's own forged entry (left of the balancer's) does not buy more.
    for _ in 0..3 {
        assert_eq!(challenge_from(&gw, &fp, "203.0.113.1").await, 200);
    }
    assert_eq!(challenge_from(&gw, &fp, "203.0.113.1").await, 429);
    assert_eq!(
        challenge_from(&gw, &fp, "198.51.100.77, 203.0.113.1").await,
        429
    );
    assert_eq!(challenge_from(&gw, &fp, "203.0.113.2").await, 200);
    // Through a second trusted hop, the client is still the one left of it.
    assert_eq!(challenge_from(&gw, &fp, "203.0.113.2, 10.1.1.1").await, 200);

    // Without trusted proxies the header is ignored: varying it does not help.
    let backend = Backend::sqlite();
    let gw = Gateway::start(&backend, &limits);
    let fp = fingerprint(&gateway_key(&backend));
    let statuses: Vec<u16> = futures::future::join_all((0..5).map(|i| {
        challenge_from(
            &gw,
            &fp,
            if i % 2 == 0 {
                "203.0.113.1"
            } else {
                "203.0.113.2"
            },
        )
    }))
    .await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        3,
        "{statuses:?}"
    );
}

#[actix_web::test]
async fn admin_keys_are_managed_and_the_last_one_stays() {
    for backend in Backend::all().await {
        let gw = Gateway::start(&backend, &[]);
        let first = gateway_key(&backend);
        let second = SigningKey::from_bytes(&[5u8; 32]);
        let public = STANDARD.encode(second.verifying_key().to_bytes());

        let (s, list) = gw.get("/admin/admin-keys", &gw.admin).await;
        assert_eq!(s, 200, "{list}");
        assert_eq!(list["data"].as_array().unwrap().len(), 1);
        assert_eq!(list["data"][0]["fingerprint"], fingerprint(&first));

        for bad in ["", "AAAA", "not base64 at all"] {
            let (s, body) = gw
                .admin_send(
                    "POST",
                    "/admin/admin-keys",
                    &json!({"public_key": bad, "name": "x"}),
                )
                .await;
            assert_error(s, &body, 400, "invalid_request_error", None);
        }
        let (s, created) = gw
            .admin_send(
                "POST",
                "/admin/admin-keys",
                &json!({"public_key": public, "name": "laptop"}),
            )
            .await;
        assert_eq!(s, 201, "{created}");
        assert_eq!(created["fingerprint"], fingerprint(&second));
        let (s, _) = gw
            .admin_send(
                "POST",
                "/admin/admin-keys",
                &json!({"public_key": public, "name": "again"}),
            )
            .await;
        assert_eq!(s, 409);

        // The new key logs in; removing it revokes its session.
        let session = login(&gw, &second).await;
        assert_eq!(gw.get("/admin/tokens", &session).await.0, 200);
        let path = format!("/admin/admin-keys/{}", fingerprint(&second));
        let (s, body) = send_json("DELETE", &gw.url(&path), Some(&session), &json!({})).await;
        assert_eq!(s, 200, "{body}");
        assert_eq!(gw.get("/admin/tokens", &session).await.0, 401);

        // The last key cannot go.
        let path = format!("/admin/admin-keys/{}", fingerprint(&first));
        let (s, body) = gw.admin_send("DELETE", &path, &json!({})).await;
        assert_error(s, &body, 409, "invalid_request_error", Some("conflict"));
        let (s, _) = gw
            .admin_send("DELETE", "/admin/admin-keys/00", &json!({}))
            .await;
        assert_eq!(s, 404);
        let (_, list) = gw.get("/admin/admin-keys", &gw.admin).await;
        assert_eq!(list["data"].as_array().unwrap().len(), 1);
        backend.drop_database().await;
    }
}

/// Every admin route (from the served OpenAPI document, which a unit test keeps equal to the
/// route table) refuses a client token with 403 and no token with 401.
#[actix_web::test]
async fn client_tokens_get_403_on_every_admin_route() {
    let backend = Backend::sqlite();
    let gw = Gateway::start(&backend, &[]);
    let client_token = gw.token(&backend, &["--name", "app"]);
    let (s, doc) = get_json(&gw.url("/openapi.json"), None).await;
    assert_eq!(s, 200);
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let admin =
            path.starts_with("/admin") || path.starts_with("/providers") || path == "/auth/logout";
        if !admin {
            continue;
        }
        for (method, _) in item.as_object().unwrap() {
            let concrete = path
                .replace("{name}", "some-provider")
                .replace("{id}", "1")
                .replace("{fingerprint}", &"0".repeat(64));
            let url = gw.url(&concrete);
            let (s, body) = send_json(
                &method.to_uppercase(),
                &url,
                Some(&client_token),
                &json!({}),
            )
            .await;
            assert_error(s, &body, 403, "permission_error", None);
            let (s, body) = send_json(&method.to_uppercase(), &url, None, &json!({})).await;
            assert_error(s, &body, 401, "authentication_error", Some("invalid_token"));
            checked += 1;
        }
    }
    assert!(checked >= 29, "only {checked} admin operations found");
}

/// A stranger who knows the admin key's fingerprint uses up the attempts of its own
/// address only: the admin, elsewhere, still gets a challenge (issue 24).
#[actix_web::test]
async fn a_stranger_cannot_lock_the_admin_out() {
    for backend in Backend::all().await {
        let gw = Gateway::start(
            &backend,
            &[
                ("GATEWAY__AUTH__LOGIN_ATTEMPTS_PER_MINUTE_PER_KEY", "3"),
                (
                    "GATEWAY__AUTH__LOGIN_ATTEMPTS_PER_MINUTE_PER_ADDRESS",
                    "100",
                ),
                ("GATEWAY__SERVER__TRUSTED_PROXIES", "127.0.0.1"),
            ],
        );
        let fp = fingerprint(&gateway_key(&backend));
        for _ in 0..30 {
            challenge_from(&gw, &fp, "198.51.100.66").await;
        }
        assert_eq!(challenge_from(&gw, &fp, "198.51.100.66").await, 429);
        assert_eq!(
            challenge_from(&gw, &fp, "203.0.113.10").await,
            200,
            "{}: the admin's own address still logs in",
            backend.label
        );
        backend.drop_database().await;
    }
}
