//! Several instances on one Postgres (contract section 7): migrations applied once when
//! instances start together, and changes made through one instance in force on another
//! within 2 × `cluster.sync_interval_ms` — also when their clocks disagree.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::harness::*;

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

/// Makes an admin change through `from`, then measures until a chat call on `to` answers
/// `want`; asserts that took at most `bound`.
#[allow(clippy::too_many_arguments)]
async fn change_reaches(
    from: &Gateway,
    to: &Gateway,
    (method, path, body): (&str, &str, serde_json::Value),
    token: &str,
    model: &str,
    want: u16,
    bound: Duration,
    what: &str,
) {
    let (s, resp) = from.admin_send(method, path, &body).await;
    assert!(s.is_success(), "{what}: {resp}");
    let took = time_until(Duration::from_secs(5), || async {
        to.post("/v1/chat/completions", token, &chat(model)).await.0 == want
    })
    .await
    .unwrap_or_else(|| panic!("{what}: never in force on the other instance"));
    assert!(
        took <= bound,
        "{what}: in force after {took:?} (bound {bound:?})"
    );
}

/// The id of the token named `name`, from the admin API.
async fn token_id(gw: &Gateway, name: &str) -> serde_json::Value {
    let (_, list) = gw.get("/admin/tokens", &gw.admin).await;
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap()["id"]
        .clone()
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
    // A's clock is a minute behind, B's right: change times come from the database. The
    // change feed is off: this is the polling fallback's bound.
    let a = Gateway::start(
        &backend,
        &[
            ("GATEWAY__CLUSTER__SYNC_INTERVAL_MS", &sync),
            ("GATEWAY__CLUSTER__LISTEN", "false"),
            ("GATEWAY_CLOCK_SKEW_MS", "-60000"),
        ],
    );
    let b = Gateway::start(
        &backend,
        &[
            ("GATEWAY__CLUSTER__SYNC_INTERVAL_MS", &sync),
            ("GATEWAY__CLUSTER__LISTEN", "false"),
        ],
    );
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
    let redirect = json!({"source": "old-name", "target": "gpt-4o-mini"});
    let put = ("PUT", "/admin/model-redirects", redirect);
    change_reaches(&a, &b, put, &token, "old-name", 200, bound, "redirect").await;

    // A token disabled on A (whose clock is behind) is refused by B, and enabled again on
    // B, accepted by A.
    let id = token_id(&a, "app").await;
    let path = format!("/admin/tokens/{id}");
    let off = ("PATCH", path.as_str(), json!({"enabled": false}));
    change_reaches(&a, &b, off, &token, "gpt-4o-mini", 401, bound, "disable").await;
    let on = ("PATCH", path.as_str(), json!({"enabled": true}));
    change_reaches(&b, &a, on, &token, "gpt-4o-mini", 200, bound, "enable").await;
    backend.drop_database().await;
}

/// With the change feed (LISTEN/NOTIFY) every kind of admin change is in force on the other
/// instance long before its next poll: here the poll is 30 s away and the bound 1 s.
#[actix_web::test]
async fn changes_arrive_at_once_through_the_change_feed() {
    let Some(backend) = postgres().await else {
        return;
    };
    let poll = [("GATEWAY__CLUSTER__SYNC_INTERVAL_MS", "30000")];
    let bound = Duration::from_secs(1);
    let mock = Mock::start();
    let a = Gateway::start(&backend, &poll);
    let b = Gateway::start(&backend, &poll);
    let token = a.token(&backend, &["--name", "app"]);
    // (A change announced before B's listener is up is read by the sync B runs once it is.)
    let mut took = Vec::new();
    let mut reaches = |what: &'static str, t: Option<Duration>| {
        let t = t.unwrap_or_else(|| panic!("{what}: never reached B"));
        assert!(
            t <= bound,
            "{what}: reached B after {t:?} (bound {bound:?})"
        );
        took.push(format!("{what} {t:?}"));
    };

    // Provider.
    a.add_provider("shared", &mock, json!(["m"]), &["sk-feed-key-0001"])
        .await;
    let t = time_until(Duration::from_secs(5), || async {
        b.post("/v1/chat/completions", &token, &chat("m")).await.0 == 200
    })
    .await;
    reaches("provider", t);

    // Key: a second key added on A is used by B.
    let started = Instant::now();
    let (s, body) = a
        .admin_send(
            "POST",
            "/providers/shared/keys",
            &json!({"key": "sk-feed-key-0002"}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let t = time_until(Duration::from_secs(5), || async {
        b.post("/v1/chat/completions", &token, &chat("m")).await;
        mock.calls_for("sk-feed-key-0002").await > 0
    })
    .await
    .map(|_| started.elapsed());
    reaches("key", t);

    // Redirect.
    let started = Instant::now();
    let redirect = json!({"source": "old-name", "target": "m"});
    let (s, body) = a
        .admin_send("PUT", "/admin/model-redirects", &redirect)
        .await;
    assert!(s.is_success(), "{body}");
    let t = time_until(Duration::from_secs(5), || async {
        b.post("/v1/chat/completions", &token, &chat("old-name"))
            .await
            .0
            == 200
    })
    .await
    .map(|_| started.elapsed());
    reaches("redirect", t);

    // Price: B's price list (its memory) shows it.
    let started = Instant::now();
    let price = json!([{"model": "m", "input_per_million": 7.5, "output_per_million": 9.5}]);
    let (s, body) = a.admin_send("PUT", "/admin/model-prices", &price).await;
    assert!(s.is_success(), "{body}");
    let t = time_until(Duration::from_secs(5), || async {
        b.get("/admin/model-prices", &b.admin).await.1["data"]
            .as_array()
            .is_some_and(|rows| rows.iter().any(|p| p["model"] == "m"))
    })
    .await
    .map(|_| started.elapsed());
    reaches("price", t);

    // Token disabled on A: refused by B.
    let id = token_id(&a, "app").await;
    let started = Instant::now();
    let path = format!("/admin/tokens/{id}");
    let (s, body) = a
        .admin_send("PATCH", &path, &json!({"enabled": false}))
        .await;
    assert!(s.is_success(), "{body}");
    let t = time_until(Duration::from_secs(5), || async {
        b.post("/v1/chat/completions", &token, &chat("m")).await.0 == 401
    })
    .await
    .map(|_| started.elapsed());
    reaches("token disabled", t);
    eprintln!("change feed propagation: {}", took.join(", "));
    let (_, raw) = send_raw("GET", &b.url("/metrics"), None, None, Vec::new()).await;
    let text = String::from_utf8_lossy(&raw);
    assert!(
        text.lines().any(|l| l == "gateway_change_feed_up 1"),
        "the feed gauge is not up: {}",
        text.lines()
            .filter(|l| l.contains("change_feed"))
            .collect::<Vec<_>>()
            .join("; ")
    );
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
    serving(&[&a, &b], &token).await;
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

/// A login challenge issued by one instance verifies on another, once: the replay is
/// refused on the first.
#[actix_web::test]
async fn a_challenge_from_one_instance_verifies_on_another_once() {
    let Some(backend) = postgres().await else {
        return;
    };
    let a = Gateway::start(&backend, &[]);
    let b = Gateway::start(&backend, &[]);
    let key = gateway_key(&backend);
    let fp = fingerprint(&key);
    let (s, c) = challenge(&a, &fp).await;
    assert_eq!(s, 200, "{c}");
    let signed = answer(&c, &fp, &key);
    let (s, session) = verify(&b, &signed).await;
    assert_eq!(s, 200, "{session}");
    let (s, body) = verify(&a, &signed).await;
    assert_eq!(s, 401, "replay accepted: {body}");
    // The session works on both instances, and a logout on one ends it on the other.
    let token = session["session_token"].as_str().unwrap();
    assert_eq!(a.get("/admin/tokens", token).await.0, 200);
    let (s, _) = send_json("POST", &b.url("/auth/logout"), Some(token), &json!({})).await;
    assert_eq!(s, 200);
    assert_eq!(a.get("/admin/tokens", token).await.0, 401);
    backend.drop_database().await;
}

/// Instances starting together with the same declared providers seed them once.
#[actix_web::test]
async fn instances_starting_together_seed_providers_once() {
    let Some(backend) = postgres().await else {
        return;
    };
    let mock = Mock::start();
    let config = backend.dir.path().join("cluster.toml");
    std::fs::write(
        &config,
        format!(
            "[[providers]]\nname = \"seeded\"\napi_type = \"openai\"\nbase_url = \"{}\"\nkeys = [\"sk-seeded-key-000001\"]\nmodels = [\"m\"]\n",
            mock.v1()
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let gateways: Vec<Gateway> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let backend = &backend;
                let config = config.clone();
                scope.spawn(move || Gateway::start(backend, &[("GATEWAY_CONFIG", config.as_str())]))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("an instance failed to start"))
            .collect()
    });
    let db = backend.connect().await;
    let q = |sql: &str| Statement::from_string(db.get_database_backend(), sql.to_string());
    let row = db
        .query_one(q("SELECT (SELECT COUNT(*) FROM providers) AS p, (SELECT COUNT(*) FROM provider_keys) AS k"))
        .await
        .unwrap()
        .unwrap();
    let (p, k): (i64, i64) = (row.try_get("", "p").unwrap(), row.try_get("", "k").unwrap());
    assert_eq!((p, k), (1, 1), "seeded {p} providers and {k} keys");
    let token = gateways[0].token(&backend, &["--name", "t"]);
    for gw in &gateways {
        assert_eq!(
            gw.post("/v1/chat/completions", &token, &chat("m")).await.0,
            200
        );
    }
    backend.drop_database().await;
}

/// Stops nginx when the test ends (SIGTERM to the master, which takes its workers along;
/// SIGKILL would leave them behind).
struct Nginx(std::process::Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// Two instances behind nginx, configured by `deploy/nginx.conf` (its ports replaced):
/// calls are spread over both, streams pass through unbuffered, a budget holds. CI installs
/// nginx and sets GATEWAY_TEST_NGINX=1, which makes its absence a failure.
#[actix_web::test]
async fn two_instances_behind_nginx() {
    let has_nginx = std::process::Command::new("nginx")
        .arg("-v")
        .output()
        .is_ok();
    let required = std::env::var("GATEWAY_TEST_NGINX").is_ok_and(|v| v == "1");
    assert!(
        has_nginx || !required,
        "GATEWAY_TEST_NGINX=1 but nginx is not installed"
    );
    if !has_nginx {
        eprintln!("skipping: nginx is not installed");
        return;
    }
    let Some(backend) = postgres().await else {
        return;
    };
    let mock = Mock::start();
    let a = Gateway::start(&backend, &[]);
    let b = Gateway::start(&backend, &[]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/nginx.conf"))
            .expect("deploy/nginx.conf");
    let conf = template
        .replace("127.0.0.1:8081", a.base.trim_start_matches("http://"))
        .replace("127.0.0.1:8082", b.base.trim_start_matches("http://"))
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));
    let prefix = backend.dir.path().join("nginx");
    std::fs::create_dir_all(&prefix).unwrap();
    let conf_path = prefix.join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let _nginx = Nginx(
        std::process::Command::new("nginx")
            .args([
                "-c",
                &conf_path.display().to_string(),
                "-p",
                &prefix.display().to_string(),
                "-g",
                "daemon off;",
            ])
            .spawn()
            .expect("start nginx"),
    );
    let lb = format!("http://127.0.0.1:{port}");
    let up = eventually(Duration::from_secs(10), || async {
        std::net::TcpStream::connect(("127.0.0.1", port))
            .ok()
            .map(|_| ())
    })
    .await;
    assert!(up.is_some(), "nginx did not listen");

    // Everything through the balancer, as a client would.
    let (s, body) = send_json(
        "POST",
        &format!("{lb}/providers"),
        Some(&a.admin),
        &json!({"name": "lb", "api_type": "openai", "base_url": mock.v1(), "models": ["m"]}),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    let (s, body) = send_json(
        "POST",
        &format!("{lb}/providers/lb/keys"),
        Some(&a.admin),
        &json!({"key": "sk-nginx-key-000001"}),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    let (s, created) = send_json(
        "POST",
        &format!("{lb}/admin/tokens"),
        Some(&a.admin),
        &json!({"name": "lb", "max_tokens": 100000}),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let token = created["token"].as_str().unwrap().to_string();
    // Both instances serve the provider within the sync bound.
    actix_web::rt::time::sleep(Duration::from_millis(2 * 200 + 100)).await;
    for _ in 0..20 {
        let (s, body) = send_json(
            "POST",
            &format!("{lb}/v1/chat/completions"),
            Some(&token),
            &chat("m"),
        )
        .await;
        assert_eq!(s, 200, "{body}");
    }
    for gw in [&a, &b] {
        let (_, raw) = send_raw("GET", &gw.url("/metrics"), None, None, Vec::new()).await;
        let text = String::from_utf8(raw).unwrap();
        assert!(
            text.lines()
                .any(|l| l.starts_with("gateway_requests_total{") && l.contains("status=\"200\"")),
            "an instance behind nginx served nothing"
        );
    }
    // A stream through nginx arrives whole, event by event.
    let mut stream = chat("m");
    stream["stream"] = json!(true);
    stream["mock"] = json!({"default_tokens": 20, "chunk_delay_ms": 10});
    let (s, raw) = send_raw(
        "POST",
        &format!("{lb}/v1/chat/completions"),
        Some(&token),
        Some("application/json"),
        serde_json::to_vec(&stream).unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    let text = String::from_utf8(raw).unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    assert!(sse_data(&text).len() >= 20, "{text}");
    backend.drop_database().await;
}
