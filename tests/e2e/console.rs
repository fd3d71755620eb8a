//! The consoles as people use them: the web console in Debian's chromium driven by
//! Playwright (tests/console/console_check.py: both sign-ins, every page, a token created
//! with a hostile name, a 401 back to sign-in, screenshots), its headers and files checked
//! over HTTP; and the terminal dashboard under tmux, read off the screen. CI installs
//! chromium, Playwright and tmux and sets GATEWAY_TEST_CONSOLE=1, which makes their absence
//! a failure.

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;

fn required() -> bool {
    std::env::var("GATEWAY_TEST_CONSOLE").is_ok_and(|v| v == "1")
}

/// A gateway with an OpenAI-type and an Anthropic-type provider and some traffic: calls
/// that succeed, stream, and fail.
async fn busy_gateway(backend: &Backend) -> (Mock, Gateway) {
    let (mock, gw) = gateway_with_mock(
        backend,
        &[(
            "GATEWAY__TELEMETRY__TRACE_URL_TEMPLATE",
            "https://tempo.example/trace/{trace_id}",
        )],
        json!(["gpt-4o-mini"]),
        &["sk-console-key-0001"],
    )
    .await;
    gw.add_typed_provider(
        "claude",
        "anthropic",
        &mock.v1(),
        json!(["claude-*"]),
        &["sk-console-ant-01"],
    )
    .await;
    let token = gw.token(backend, &["--name", "traffic"]);
    for i in 0..6 {
        let model = if i % 2 == 0 {
            "gpt-4o-mini"
        } else {
            "claude-x"
        };
        let (status, _) = gw.post("/v1/chat/completions", &token, &chat(model)).await;
        assert_eq!(status, 200);
    }
    let (status, _) = gw
        .post("/v1/chat/completions", &token, &chat("no-such-model"))
        .await;
    assert_eq!(status, 404);
    (mock, gw)
}

#[actix_web::test]
async fn the_console_is_served_with_a_strict_policy() {
    let backend = Backend::sqlite();
    let gw = Gateway::start(&backend, &[]);
    let (status, body) = send_raw("GET", &gw.url("/console/"), None, None, Vec::new()).await;
    assert_eq!(status, 200);
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains("name=\"token\"") && html.contains("type=\"submit\""));
    for nav in ["Overview", "Providers", "Tokens", "Teams", "Logs", "Audit"] {
        assert!(html.contains(&format!(">{nav}</a>")), "{nav}");
    }
    // No inline script anywhere: every <script> has a src.
    assert_eq!(
        html.matches("<script").count(),
        html.matches("<script src=").count()
    );
    let res = client().get(gw.url("/console/")).send().await.unwrap();
    let csp = res
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert!(res.headers().get("set-cookie").is_none(), "no cookies");
    let (status, js) = send_raw(
        "GET",
        &gw.url("/console/console.js"),
        None,
        None,
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200);
    let js = String::from_utf8(js).unwrap();
    assert!(
        !js.contains("innerHTML") && !js.contains("insertAdjacentHTML") && !js.contains("eval("),
        "user data never goes through an HTML parser"
    );
    let (status, _) = send_raw(
        "GET",
        &gw.url("/console/../../etc/passwd"),
        None,
        None,
        Vec::new(),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = send_raw(
        "GET",
        &gw.url("/console/secret.txt"),
        None,
        None,
        Vec::new(),
    )
    .await;
    assert_eq!(status, 404);
    let res = awc::Client::builder()
        .disable_redirects()
        .finish()
        .get(gw.url("/console"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 308);
    assert_eq!(res.headers().get("location").unwrap(), "/console/");
    // The series behind the charts is admin-only.
    let (status, _) = get_json(&gw.url("/admin/metrics/series"), None).await;
    assert_eq!(status, 401);
}

/// Whether Playwright and a chromium are here.
fn browser_ready() -> bool {
    let playwright = Command::new("python3")
        .args(["-c", "import playwright"])
        .output()
        .is_ok_and(|o| o.status.success());
    let chromium = std::path::Path::new("/usr/bin/chromium").exists();
    assert!(
        (playwright && chromium) || !required(),
        "GATEWAY_TEST_CONSOLE=1 but Playwright ({playwright}) or /usr/bin/chromium ({chromium}) is missing"
    );
    if !(playwright && chromium) {
        eprintln!("skipping: Playwright or chromium is not installed");
    }
    playwright && chromium
}

#[actix_web::test]
async fn the_web_console_works_in_a_browser() {
    if !browser_ready() {
        return;
    }
    let backend = Backend::sqlite();
    let (_mock, gw) = busy_gateway(&backend).await;
    // The newest row belongs to a trace: its detail links there (console_check.py).
    let token = gw.token(&backend, &["--name", "traced"]);
    let mut resp = client()
        .post(gw.url("/v1/chat/completions"))
        .insert_header(("authorization", format!("Bearer {token}")))
        .insert_header((
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ))
        .send_json(&chat("gpt-4o-mini"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let _ = resp.body().await;
    let key = backend.dir.path().join("data/admin_ed25519.key");
    let shots = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    let gateway = gw.base.clone();
    let admin = gw.admin.clone();
    actix_web::rt::task::spawn_blocking(move || {
        run_script(
            "tests/console/console_check.py",
            &[
                &gateway,
                &admin,
                key.to_str().unwrap(),
                shots.to_str().unwrap(),
            ],
        )
    })
    .await
    .unwrap();
    // The browser's token is in the audit trail, with its hostile name stored as written.
    let (_, tokens) = gw.admin_send("GET", "/admin/tokens", &Value::Null).await;
    assert!(tokens["data"].as_array().unwrap().iter().any(|t| t["name"]
        .as_str()
        .is_some_and(|n| n.starts_with("<img src=x"))));
}

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux").args(args).output().expect("run tmux");
    String::from_utf8_lossy(&out.stdout).to_string()
}

async fn screen_shows(session: &str, text: &str, within: Duration) -> String {
    let mut last = String::new();
    let found = eventually(within, || {
        last = tmux(&["capture-pane", "-p", "-t", session]);
        let hit = last.contains(text);
        async move { hit.then_some(()) }
    })
    .await;
    assert!(found.is_some(), "the screen never showed {text:?}:\n{last}");
    last
}

#[actix_web::test]
async fn the_terminal_dashboard_works_under_tmux() {
    let tmux_here = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        tmux_here || !required(),
        "GATEWAY_TEST_CONSOLE=1 but tmux is missing"
    );
    if !tmux_here {
        eprintln!("skipping: tmux is not installed");
        return;
    }
    let backend = Backend::sqlite();
    let (_mock, mut gw) = busy_gateway(&backend).await;
    // A client's model name that would set the terminal's title and clear the screen.
    let token = gw.token(&backend, &["--name", "hostile"]);
    let (status, _) = gw
        .post(
            "/v1/chat/completions",
            &token,
            &chat("evil\u{1b}]0;pwned\u{7}\u{1b}[2Jmodel"),
        )
        .await;
    assert_eq!(status, 404);
    let session = format!("gz-tui-{:08x}", rand::random::<u32>());
    let command = format!(
        "GATEWAY_ADMIN_TOKEN={} {GATEWAY_BIN} admin tui --url {} --refresh-secs 1; echo EXITED=$?; sleep 60",
        gw.admin, gw.base
    );
    tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "140",
        "-y",
        "40",
        &command,
    ]);
    let screen = screen_shows(&session, "chat.completions", Duration::from_secs(15)).await;
    for pane in ["Traffic", "Latency", "Keys", "Top tokens", "Recent calls"] {
        assert!(screen.contains(pane), "{pane}:\n{screen}");
    }
    assert!(
        screen.contains("▸ Traffic"),
        "the first pane has the focus:\n{screen}"
    );
    assert!(
        screen.contains("healthy") && screen.contains("no-such-model"),
        "{screen}"
    );
    assert!(
        screen.contains("evil\\x1b]0;pw"),
        "control characters are shown escaped, not obeyed:\n{screen}"
    );
    // Tab and arrows move the focus.
    tmux(&["send-keys", "-t", &session, "Tab"]);
    screen_shows(&session, "▸ Latency", Duration::from_secs(3)).await;
    tmux(&["send-keys", "-t", &session, "Down"]);
    screen_shows(&session, "▸ Top tokens", Duration::from_secs(3)).await;
    // A small terminal gets a summary instead of cut panes.
    tmux(&["resize-window", "-t", &session, "-x", "50", "-y", "15"]);
    screen_shows(&session, "terminal 50x15", Duration::from_secs(3)).await;
    tmux(&["resize-window", "-t", &session, "-x", "140", "-y", "40"]);
    screen_shows(&session, "Recent calls", Duration::from_secs(3)).await;
    // The gateway goes away: the dashboard says so and keeps trying.
    gw.kill();
    screen_shows(&session, "retrying", Duration::from_secs(10)).await;
    // q quits and gives the terminal back.
    tmux(&["send-keys", "-t", &session, "q"]);
    let screen = screen_shows(&session, "EXITED=0", Duration::from_secs(5)).await;
    assert!(
        !screen.contains("Recent calls"),
        "the alternate screen is gone:\n{screen}"
    );
    tmux(&["kill-session", "-t", &session]);
}

/// The series behind the charts adds up to the calls made, step by step, on both
/// databases.
#[actix_web::test]
async fn the_series_behind_the_charts_adds_up() {
    for backend in Backend::all().await {
        let (_mock, gw) = busy_gateway(&backend).await;
        let (status, series) = gw
            .admin_send(
                "GET",
                "/admin/metrics/series?window_minutes=15",
                &Value::Null,
            )
            .await;
        assert_eq!(status, 200, "{series}");
        assert_eq!(series["step_seconds"], 60);
        let points = series["points"].as_array().unwrap();
        assert!((15..=17).contains(&points.len()), "{} steps", points.len());
        let sum = |k: &str| points.iter().map(|p| p[k].as_i64().unwrap()).sum::<i64>();
        assert_eq!((sum("requests"), sum("errors")), (7, 1), "{series}");
        assert!(points.iter().any(|p| p["p50_latency_ms"].is_number()));
        let (_, week) = gw
            .admin_send(
                "GET",
                "/admin/metrics/series?window_minutes=10080",
                &Value::Null,
            )
            .await;
        assert_eq!(week["step_seconds"], 10_800, "a week in 3-hour steps");
        let total: i64 = week["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["requests"].as_i64().unwrap())
            .sum();
        assert_eq!(total, 7);
        backend.drop_database().await;
    }
}
