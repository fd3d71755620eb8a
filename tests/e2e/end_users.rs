//! Who spent it (contract section 3, "Budgets an organisation runs on"): every log row
//! names the end user and the session as each client writes them, the log filters by both,
//! and `/admin/metrics/end-users` lists end users by spend from the rollups — with no
//! end-user label in Prometheus.

use serde_json::{json, Value};

use crate::harness::*;

/// A call to `path` with `headers`, as the named client writes it; its status.
async fn call(gw: &Gateway, path: &str, token: &str, headers: &[(&str, &str)], body: Value) -> u16 {
    let mut req = client()
        .post(gw.url(path))
        .insert_header(("authorization", format!("Bearer {token}")))
        .insert_header(("anthropic-version", "2023-06-01"));
    for (name, value) in headers {
        req = req.insert_header((*name, *value));
    }
    let mut resp = req.send_json(&body).await.unwrap();
    let _ = resp.body().limit(1 << 20).await;
    resp.status().as_u16()
}

fn chat(extra: Value) -> Value {
    let mut body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

async fn logs(gw: &Gateway, query: &str) -> Vec<Value> {
    let (status, page) = gw
        .admin_send(
            "GET",
            &format!("/admin/logs/requests?{query}"),
            &Value::Null,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    page["data"].as_array().unwrap().clone()
}

#[actix_web::test]
async fn log_rows_name_the_end_user_and_session_however_the_client_writes_them() {
    for backend in Backend::all().await {
        rows_name_who_spent_it(&backend).await;
    }
}

async fn rows_name_who_spent_it(backend: &Backend) {
    let mock = Mock::start();
    let gw = Gateway::start(backend, &[]);
    gw.add_provider("open", &mock, Value::Null, &["sk-end-users-0001"])
        .await;
    add_claude(&gw, &mock, "sk-ant-end-users-0001").await;
    let (token_id, token) = token_with(&gw, json!({})).await;

    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Value);
    let cases: Vec<Case> = vec![
        // OpenAI's `user`, a session header.
        (
            "/v1/chat/completions",
            vec![("x-session-id", "s-1")],
            chat(json!({"user": "alice"})),
        ),
        // The header wins over the body.
        (
            "/v1/chat/completions",
            vec![("x-gateway-end-user", "carol")],
            chat(json!({"safety_identifier": "bob"})),
        ),
        (
            "/v1/chat/completions",
            vec![],
            chat(json!({"safety_identifier": "bob"})),
        ),
        // The Responses API's `user`.
        (
            "/v1/responses",
            vec![],
            json!({"model": "gpt-4o-mini", "input": "hi", "store": false, "user": "dave"}),
        ),
        // Anthropic's `metadata.user_id`; Claude Code's session header before the generic one.
        (
            "/v1/messages",
            vec![
                ("x-claude-code-session-id", "cc-1"),
                ("x-session-id", "s-2"),
            ],
            json!({"model": "claude-sonnet-4", "max_tokens": 16, "metadata": {"user_id": "erin"},
                   "messages": [{"role": "user", "content": "hi"}]}),
        ),
        // What would move a terminal's cursor is kept escaped.
        (
            "/v1/chat/completions",
            vec![],
            chat(json!({"user": "eve\u{1b}[2J"})),
        ),
        // Nobody named.
        ("/v1/chat/completions", vec![], chat(json!({"user": 42}))),
    ];
    for (path, headers, body) in cases {
        assert_eq!(call(&gw, path, &token, &headers, body).await, 200, "{path}");
    }
    // Every row written (the log reads flush what the sink buffers).
    let all = logs(&gw, "limit=50").await;
    assert_eq!(all.len(), 7);
    let named: Vec<(Option<&str>, Option<&str>)> = all
        .iter()
        .rev()
        .map(|r| (r["end_user"].as_str(), r["session_id"].as_str()))
        .collect();
    assert_eq!(
        named,
        vec![
            (Some("alice"), Some("s-1")),
            (Some("carol"), None),
            (Some("bob"), None),
            (Some("dave"), None),
            (Some("erin"), Some("cc-1")),
            (Some("eve\\x1b[2J"), None),
            (None, None),
        ]
    );

    // Rows and the summary name the token, not only its id.
    let (_, view) = gw
        .admin_send("GET", &format!("/admin/tokens/{token_id}"), &Value::Null)
        .await;
    let token_name = view["name"].as_str().unwrap().to_string();
    assert!(all.iter().all(|r| r["token_name"] == token_name.as_str()));
    let (_, summary) = gw
        .admin_send(
            "GET",
            "/admin/metrics/summary?window_minutes=60",
            &Value::Null,
        )
        .await;
    assert_eq!(
        summary["top_tokens"][0]["name"],
        token_name.as_str(),
        "{summary}"
    );

    // Filters.
    let alice = logs(&gw, "end_user=alice").await;
    assert_eq!(alice.len(), 1);
    assert_eq!(alice[0]["session_id"], "s-1");
    let session = logs(&gw, "session_id=cc-1").await;
    assert_eq!(session.len(), 1);
    assert_eq!(session[0]["end_user"], "erin");
    assert_eq!(session[0]["endpoint"], "messages");
    assert!(logs(&gw, "end_user=nobody").await.is_empty());

    // End users by spend, from the rollups: six named, one call each.
    let (status, list) = gw
        .admin_send(
            "GET",
            "/admin/metrics/end-users?window_minutes=60",
            &Value::Null,
        )
        .await;
    assert_eq!(status, 200, "{list}");
    let data = list["data"].as_array().unwrap();
    let mut users: Vec<&str> = data
        .iter()
        .map(|u| u["end_user"].as_str().unwrap())
        .collect();
    users.sort();
    assert_eq!(
        users,
        vec!["alice", "bob", "carol", "dave", "erin", "eve\\x1b[2J"]
    );
    for u in data {
        assert_eq!(u["requests"], 1, "{u}");
        assert!(u["total_tokens"].as_i64().unwrap() > 0, "{u}");
    }
    let sessions = |name: &str| {
        data.iter()
            .find(|u| u["end_user"] == name)
            .map(|u| u["sessions"].as_i64().unwrap())
    };
    assert_eq!(sessions("alice"), Some(1));
    assert_eq!(sessions("erin"), Some(1));
    assert_eq!(sessions("bob"), Some(0));
    let spends: Vec<f64> = data.iter().map(|u| u["spend"].as_f64().unwrap()).collect();
    assert!(
        spends.windows(2).all(|w| w[0] >= w[1]),
        "most spend first: {spends:?}"
    );
    let (status, limited) = gw
        .admin_send("GET", "/admin/metrics/end-users?limit=2", &Value::Null)
        .await;
    assert_eq!(status, 200);
    assert_eq!(limited["data"].as_array().unwrap().len(), 2);
    let (status, _) = gw
        .admin_send("GET", "/admin/metrics/end-users?limit=0", &Value::Null)
        .await;
    assert_eq!(status, 400);

    // Prometheus keeps bounded labels: no end user, no session.
    let (status, metrics) = send_raw(
        "GET",
        &gw.url("/metrics"),
        Some(&gw.admin),
        None,
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200);
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(metrics.contains("gateway_"), "{metrics}");
    assert!(!metrics.contains("alice") && !metrics.contains("cc-1"));
}
