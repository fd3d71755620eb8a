//! The command line and settings: token create/list against a running gateway,
//! providers declared in settings, migrate.

use crate::harness::*;

#[actix_web::test]
async fn cli_token_is_accepted_by_the_running_gateway() {
    for backend in Backend::all().await {
        let gw = Gateway::start(&backend, &[]);
        // A bad token first, so the negative cache has seen something.
        let (status, _) = gw.get("/v1/models", "gz-unknown").await;
        assert_eq!(status, 401);
        let token = gw.token(
            &backend,
            &["--name", "fresh", "--models", "gpt-4o*", "--rpm", "60"],
        );
        let (status, body) = gw.get("/v1/models", &token).await;
        assert_eq!(status, 200, "{}: {body}", backend.label);
        let admin = gw.token(&backend, &["--admin", "--name", "root"]);
        let (status, _) = gw.get("/providers", &admin).await;
        assert_eq!(status, 200);

        let (ok, out, _) = gw.cli(&backend, &["token", "list"]);
        assert!(ok);
        assert!(out.contains("fresh") && out.contains("root"), "{out}");
        assert!(
            !out.contains(&token) && !out.contains(&admin),
            "plaintext listed: {out}"
        );

        let (ok, _, err) = gw.cli(
            &backend,
            &["token", "create", "--name", "x", "--expires-at", "soon"],
        );
        assert!(!ok);
        assert_eq!(err.trim().lines().count(), 1, "one-line reason: {err}");
        backend.drop_database().await;
    }
}

#[actix_web::test]
async fn providers_from_settings_are_upserted_and_usable() {
    let backend = Backend::sqlite();
    let mock = Mock::start();
    let config = backend.dir.path().join("extra.toml");
    std::fs::write(
        &config,
        format!(
            "[[providers]]\nname = \"seeded\"\napi_type = \"OpenAI\"\nbase_url = \"{}\"\nkeys = [\"sk-seeded-key-00001\"]\nmodels = [\"gpt-4o-mini\"]\n",
            mock.v1()
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let gw = Gateway::start(&backend, &[("GATEWAY_CONFIG", &config)]);
    let (status, body) = gw
        .post("/v1/chat/completions", &gw.admin, &chat("gpt-4o-mini"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(mock.calls_for("sk-seeded-key-00001").await, 1);
    let (_, keys) = gw.get("/providers/seeded/keys", &gw.admin).await;
    assert_eq!(keys["data"].as_array().unwrap().len(), 1);
    drop(gw);
    // Restarting does not duplicate the provider or its key.
    let gw = Gateway::start(&backend, &[("GATEWAY_CONFIG", &config)]);
    let (_, providers) = gw.get("/providers", &gw.admin).await;
    assert_eq!(providers["data"].as_array().unwrap().len(), 1);
    let (_, keys) = gw.get("/providers/seeded/keys", &gw.admin).await;
    assert_eq!(keys["data"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn migrate_command_and_bad_settings() {
    let backend = Backend::sqlite();
    let env = Gateway::env_for(&backend, &[]);
    let run = |args: &[&str], extra: &[(&str, &str)]| {
        std::process::Command::new(GATEWAY_BIN)
            .current_dir(backend.dir.path())
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(extra.iter().copied())
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["migrate"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["migrate"], &[]);
    assert!(out.status.success(), "migrate twice is fine");
    let out = run(&["serve"], &[("GATEWAY__ROUTING__MAX_ATTEMPTS", "0")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("max_attempts"), "{err}");
    let out = run(
        &["serve"],
        &[("GATEWAY__ROUTING__KEY_STRATEGY", "sideways")],
    );
    assert!(!out.status.success());
    // An absurd batch size is refused with a reason, not a crash.
    let out = run(
        &["serve"],
        &[("GATEWAY__ACCOUNTING__BATCH_SIZE", "100000000")],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("batch_size") && !err.contains("panicked"),
        "{err}"
    );
    let out = run(
        &["serve"],
        &[
            ("GATEWAY__DATABASE__URL", "postgres://nobody@127.0.0.1:1/x"),
            ("GATEWAY__SECURITY__MASTER_KEY", ""),
        ],
    );
    assert!(!out.status.success());
}
