//! Teams (contract section 3, "Budgets an organisation runs on"): a call is admitted only
//! when its token and its team both allow it — both budgets hard, both rate and
//! concurrency limits, the intersection of both allow-lists — on one instance and across a
//! cluster; teams page, search and delete as the contract says.

use std::time::Duration;

use futures::future::join_all;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

use crate::harness::*;

async fn team(gw: &Gateway, body: Value) -> i64 {
    let (status, created) = gw.admin_send("POST", "/admin/teams", &body).await;
    assert_eq!(status, 201, "{created}");
    created["id"].as_i64().unwrap()
}

/// Calls until the first 429; how many were served and the refusal.
async fn until_refused(gw: &Gateway, tokens: &[&str], body: &Value) -> (usize, Value) {
    for i in 0..200 {
        let token = tokens[i % tokens.len()];
        let (s, resp) = gw.post("/v1/chat/completions", token, body).await;
        match s.as_u16() {
            200 => {}
            429 => return (i, resp),
            other => panic!("{other}: {resp}"),
        }
    }
    panic!("never refused");
}

#[actix_web::test]
async fn a_team_budget_binds_every_token_of_the_team() {
    for backend in Backend::all().await {
        let (mock, gw) = gateway_with_mock(
            &backend,
            &[],
            json!(["m", "other"]),
            &["sk-team-key-000001"],
        )
        .await;
        let _ = &mock;
        // Validation and names.
        let (s, e) = gw
            .admin_send(
                "POST",
                "/admin/teams",
                &json!({"name": "ml", "budget_period": "fortnightly"}),
            )
            .await;
        assert_error(s, &e, 400, "invalid_request_error", None);
        assert_eq!(e["error"]["param"], "budget_period", "{e}");
        let id = team(
            &gw,
            json!({"name": "ml", "max_tokens": 1000, "budget_period": "monthly",
                   "allowed_models": ["m"]}),
        )
        .await;
        let (s, e) = gw
            .admin_send("POST", "/admin/teams", &json!({"name": "ml"}))
            .await;
        assert_eq!(s, 409, "{e}");
        let (s, e) = gw
            .admin_send(
                "POST",
                "/admin/tokens",
                &json!({"name": "x", "team_id": 999_999}),
            )
            .await;
        assert_eq!(
            (s.as_u16(), e["error"]["param"].as_str()),
            (400, Some("team_id")),
            "{e}"
        );
        // Two tokens without budgets of their own, in the team.
        let (a_id, a) = token_with(&gw, json!({"team_id": id})).await;
        let (_, b) = token_with(&gw, json!({"team_id": id})).await;
        let (_, outsider) = token_with(&gw, json!({})).await;
        let (_, page) = gw
            .admin_send("GET", &format!("/admin/tokens?team_id={id}"), &Value::Null)
            .await;
        assert_eq!(page["data"].as_array().unwrap().len(), 2, "{page}");
        // The intersection of the allow-lists: the token allows everything, the team `m`.
        let (s, e) = gw.post("/v1/chat/completions", &a, &chat("other")).await;
        assert_error(s, &e, 403, "permission_error", None);
        assert!(
            e["error"]["message"].as_str().unwrap().contains("team"),
            "{e}"
        );
        assert_eq!(
            gw.post("/v1/chat/completions", &outsider, &chat("other"))
                .await
                .0,
            200
        );
        // Calls of both tokens spend the team's 1,000 tokens; then both are refused.
        let mut body = chat("m");
        body["mock"] = json!({"default_tokens": 60});
        let (served, refusal) = until_refused(&gw, &[&a, &b], &body).await;
        assert!(
            served >= 3,
            "only {served} calls on a 1000-token team budget"
        );
        assert_eq!(refusal["error"]["type"], "insufficient_quota", "{refusal}");
        let message = refusal["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("team budget") && message.contains("resets at"),
            "{message}"
        );
        assert_eq!(gw.post("/v1/chat/completions", &b, &body).await.0, 429);
        // The outsider is not in the team: served.
        assert_eq!(
            gw.post("/v1/chat/completions", &outsider, &body).await.0,
            200
        );
        // Never past the budget: the log's tokens of the team's calls, and the team's
        // counter, once every call is written, agree with what the gateway shows.
        let (_, view) = gw
            .admin_send("GET", &format!("/admin/teams/{id}"), &Value::Null)
            .await;
        let shown = view["spent_tokens"].as_i64().unwrap();
        let db = backend.connect().await;
        let logged = eventually(Duration::from_secs(5), || async {
            let row = db
                .query_one(Statement::from_string(
                    db.get_database_backend(),
                    format!(
                        "SELECT CAST(COALESCE(SUM(l.total_tokens), 0) AS BIGINT) AS t, \
                         (SELECT period_tokens FROM teams WHERE id = {id}) AS p \
                         FROM request_logs l JOIN tokens k ON k.id = l.token_id WHERE k.team_id = {id}"
                    ),
                ))
                .await
                .unwrap()
                .unwrap();
            let (t, p): (i64, i64) = (row.try_get("", "t").unwrap(), row.try_get("", "p").unwrap());
            (t == shown && t == p).then_some(t)
        })
        .await
        .expect("the team's period counter equals its tokens' logged usage");
        assert!(
            logged <= 1000,
            "{logged} tokens on a 1000-token team budget"
        );
        // The views: the team's period usage and reset; the token's balance names its team.
        assert!(
            view["resets_at"].as_str().unwrap().ends_with("T00:00:00Z"),
            "{view}"
        );
        let (_, balance) = gw.get("/v1/token/balance", &a).await;
        assert_eq!(balance["team"]["id"], id, "{balance}");
        assert_eq!(balance["team"]["name"], "ml");
        assert_eq!(
            balance["team"]["tokens_remaining"],
            1000 - logged,
            "{balance}"
        );
        assert_eq!(balance["budget_period"], "none");
        // Search and pages.
        team(&gw, json!({"name": "Research"})).await;
        let (_, found) = gw
            .admin_send("GET", "/admin/teams?q=RESEARCH", &Value::Null)
            .await;
        assert_eq!(found["data"].as_array().unwrap().len(), 1, "{found}");
        let (_, first) = gw
            .admin_send("GET", "/admin/teams?limit=1", &Value::Null)
            .await;
        assert_eq!(first["data"].as_array().unwrap().len(), 1);
        assert!(first["next_cursor"].is_string(), "{first}");
        // A team with tokens is deleted only with force; its tokens leave it and are then
        // bound by their own limits only.
        let (s, e) = gw
            .admin_send("DELETE", &format!("/admin/teams/{id}"), &Value::Null)
            .await;
        assert_eq!(s, 409, "{e}");
        let (s, gone) = gw
            .admin_send(
                "DELETE",
                &format!("/admin/teams/{id}?force=true"),
                &Value::Null,
            )
            .await;
        assert_eq!(
            (s.as_u16(), gone["tokens_released"].as_u64()),
            (200, Some(2)),
            "{gone}"
        );
        let (_, token) = gw
            .admin_send("GET", &format!("/admin/tokens/{a_id}"), &Value::Null)
            .await;
        assert_eq!(token["team_id"], Value::Null);
        assert_eq!(gw.post("/v1/chat/completions", &a, &body).await.0, 200);
        // The name is free again.
        team(&gw, json!({"name": "ml"})).await;
        backend.drop_database().await;
    }
}

#[actix_web::test]
async fn team_rate_and_concurrency_limits_bind_its_tokens_together() {
    for backend in Backend::all().await {
        let (_mock, gw) =
            gateway_with_mock(&backend, &[], json!(["m"]), &["sk-team-key-000002"]).await;
        let id = team(&gw, json!({"name": "agents", "max_parallel": 1, "rpm": 4})).await;
        let (_, a) = token_with(&gw, json!({"team_id": id})).await;
        let (_, b) = token_with(&gw, json!({"team_id": id})).await;
        // One call in flight for the whole team: the other token's call is refused at once.
        let mut slow = chat("m");
        slow["mock"] = json!({"first_delay_ms": 1200});
        let calls = [(&a, &slow), (&b, &slow)];
        let answers = join_all(
            calls
                .iter()
                .map(|(t, body)| gw.post("/v1/chat/completions", t, body)),
        )
        .await;
        let codes: Vec<u16> = answers.iter().map(|(s, _)| s.as_u16()).collect();
        assert!(codes.contains(&200) && codes.contains(&429), "{codes:?}");
        let refused = answers.iter().find(|(s, _)| *s == 429).unwrap();
        assert_eq!(
            refused.1["error"]["code"], "concurrency_limit",
            "{}",
            refused.1
        );
        assert!(refused.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("team"));
        // rpm 4 across both tokens: two more calls each make five; the fifth is refused.
        let mut codes = Vec::new();
        for t in [&a, &b, &a] {
            codes.push(
                gw.post("/v1/chat/completions", t, &chat("m"))
                    .await
                    .0
                    .as_u16(),
            );
        }
        assert_eq!(codes, [200, 200, 200], "{codes:?}");
        let (s, e) = gw.post("/v1/chat/completions", &b, &chat("m")).await;
        assert_eq!(s, 429, "{e}");
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains("team rate limit"),
            "{e}"
        );
        backend.drop_database().await;
    }
}

/// Two instances on one Postgres: the team's budget is as hard as a token's, and its
/// holds all end.
#[actix_web::test]
async fn a_team_budget_holds_across_instances() {
    let Some(backend) = postgres().await else {
        return;
    };
    let mock = Mock::start();
    let a = Gateway::start(&backend, &[]);
    let b = Gateway::start(&backend, &[]);
    a.add_provider("shared", &mock, json!(["m"]), &["sk-team-key-000003"])
        .await;
    let budget = 1500i64;
    let id = team(
        &a,
        json!({"name": "cluster-team", "max_tokens": budget, "budget_period": "daily"}),
    )
    .await;
    let (_, t1) = token_with(&a, json!({"team_id": id})).await;
    let (_, t2) = token_with(&a, json!({"team_id": id})).await;
    serving(&[&a, &b], &t1).await;
    serving(&[&a, &b], &t2).await;
    let mut body = chat("m");
    body["mock"] = json!({"default_tokens": 100});
    let burst = |gw: &Gateway, token: String| {
        let url = gw.url("/v1/chat/completions");
        let body = body.clone();
        async move { join_all((0..15).map(|_| send_json("POST", &url, Some(&token), &body))).await }
    };
    futures::join!(burst(&a, t1.clone()), burst(&b, t2.clone()));
    let mut refusals = 0;
    for i in 0..200 {
        let (gw, token) = if i % 2 == 0 { (&a, &t1) } else { (&b, &t2) };
        let (s, resp) = gw.post("/v1/chat/completions", token, &body).await;
        match s.as_u16() {
            200 => refusals = 0,
            429 => {
                refusals += 1;
                if refusals == 4 {
                    break;
                }
                actix_web::rt::time::sleep(Duration::from_millis(150)).await;
            }
            other => panic!("{other}: {resp}"),
        }
    }
    assert_eq!(refusals, 4, "the team's budget never ran out");
    let db = backend.connect().await;
    let settled = eventually(Duration::from_secs(5), || async {
        let row = db
            .query_one(Statement::from_string(
                db.get_database_backend(),
                format!(
                    "SELECT period_tokens, held_tokens, \
                     (SELECT CAST(COALESCE(SUM(tokens), 0) AS BIGINT) FROM team_budget_holds) AS holds, \
                     (SELECT CAST(COALESCE(SUM(l.total_tokens), 0) AS BIGINT) FROM request_logs l \
                      JOIN tokens k ON k.id = l.token_id WHERE k.team_id = {id}) AS logged \
                     FROM teams WHERE id = {id}"
                ),
            ))
            .await
            .unwrap()
            .unwrap();
        let get = |c: &str| row.try_get::<i64>("", c).unwrap();
        let (spent, held, holds, logged) =
            (get("period_tokens"), get("held_tokens"), get("holds"), get("logged"));
        (held == 0 && holds == 0 && spent == logged).then_some(spent)
    })
    .await
    .expect("team leases are given back and its counter matches the log");
    eprintln!("team budget {budget}: {settled} used across two instances");
    assert!(
        settled <= budget,
        "{settled} tokens on a {budget}-token team budget"
    );
    assert!(settled >= budget / 2, "only {settled} of {budget} usable");
    backend.drop_database().await;
}

/// The terminal admin manages teams and puts tokens in them.
#[actix_web::test]
async fn the_terminal_admin_manages_teams() {
    let backend = Backend::sqlite();
    let (_mock, gw) = gateway_with_mock(&backend, &[], json!(["m"]), &["sk-team-key-000004"]).await;
    let admin = |args: &[&str]| -> Value {
        let mut all = vec!["admin", "--url", &gw.base, "--token", &gw.admin, "--json"];
        all.extend_from_slice(args);
        let (ok, stdout, stderr) = gw.cli(&backend, &all);
        assert!(ok, "admin {args:?}: {stderr}");
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
    };
    let created = admin(&[
        "teams",
        "create",
        "--name",
        "search",
        "--max-tokens",
        "5000",
        "--budget-period",
        "weekly",
        "--max-parallel",
        "3",
        "--models",
        "m,gpt-*",
    ]);
    let id = created["id"].as_i64().unwrap().to_string();
    assert_eq!(created["budget_period"], "weekly", "{created}");
    assert_eq!(created["allowed_models"], json!(["m", "gpt-*"]));
    let token = admin(&[
        "tokens",
        "create",
        "--name",
        "crawler",
        "--team",
        &id,
        "--budget-period",
        "1h",
    ]);
    assert_eq!(token["team_id"].to_string(), id, "{token}");
    assert_eq!(token["budget_period"], "1h");
    let listed = admin(&["tokens", "list", "--team", &id]);
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
    let found = admin(&["teams", "list", "--q", "SEAR"]);
    assert_eq!(found["data"][0]["name"], "search", "{found}");
    let updated = admin(&["teams", "update", &id, "--max-tokens", "9000"]);
    assert_eq!(updated["max_tokens"], 9000);
    // Refused without --force while it has a token; then the token leaves it.
    let mut all = vec![
        "admin", "--url", &gw.base, "--token", &gw.admin, "teams", "delete", &id,
    ];
    let (ok, _, stderr) = gw.cli(&backend, &all);
    assert!(!ok && stderr.contains("force=true"), "{stderr}");
    all.push("--force");
    let (ok, _, stderr) = gw.cli(&backend, &all);
    assert!(ok, "{stderr}");
    let token = admin(&["tokens", "show", &token["id"].to_string()]);
    assert_eq!(token["team_id"], Value::Null, "{token}");
    // A table for people: the team's columns.
    let (ok, table, _) = gw.cli(
        &backend,
        &[
            "admin", "--url", &gw.base, "--token", &gw.admin, "teams", "list",
        ],
    );
    assert!(
        ok && table.contains("BUDGET_PERIOD") && table.contains("RESETS_AT"),
        "{table}"
    );
}

/// Two instances, a team with `max_parallel` 2 and two tokens: never more than two of the
/// team's calls in flight across the cluster.
#[actix_web::test]
async fn a_team_concurrency_cap_holds_across_instances() {
    let Some(backend) = postgres().await else {
        return;
    };
    let mock = Mock::start();
    let a = Gateway::start(&backend, &[]);
    let b = Gateway::start(&backend, &[]);
    a.add_provider("shared", &mock, json!(["m"]), &["sk-team-key-000005"])
        .await;
    let id = team(&a, json!({"name": "capped-team", "max_parallel": 2})).await;
    let (_, t1) = token_with(&a, json!({"team_id": id})).await;
    let (_, t2) = token_with(&a, json!({"team_id": id})).await;
    serving(&[&a, &b], &t1).await;
    serving(&[&a, &b], &t2).await;
    // Let the slot holds of the serving checks shrink away (lease tick).
    actix_web::rt::time::sleep(Duration::from_millis(2500)).await;
    let mut slow = chat("m");
    slow["mock"] = json!({"first_delay_ms": 1500});
    let calls = [(&a, &t1), (&a, &t2), (&b, &t1), (&b, &t2)]
        .map(|(gw, t)| gw.post("/v1/chat/completions", t, &slow));
    let answers = join_all(calls).await;
    let served = answers.iter().filter(|x| x.0 == 200).count();
    let refused: Vec<&Value> = answers
        .iter()
        .filter(|x| x.0 == 429)
        .map(|x| &x.1)
        .collect();
    assert_eq!((served, refused.len()), (2, 2), "{answers:?}");
    for body in refused {
        assert_eq!(body["error"]["code"], "concurrency_limit", "{body}");
    }
    backend.drop_database().await;
}
