//! Lists that scale (contract section 4): `GET /admin/tokens` pages by `limit` and an
//! opaque `cursor` (default 100, at most 1000) and searches names with `q`; the short
//! lists (redirects, prices, provider keys, admin keys) page the same way; walking the
//! pages sees every item once.

use std::collections::HashSet;

use futures::future::join_all;
use serde_json::{json, Value};

use crate::harness::*;

async fn page(gw: &Gateway, query: &str) -> (Vec<Value>, Option<String>) {
    let (status, body) = gw
        .admin_send("GET", &format!("/admin/tokens{query}"), &Value::Null)
        .await;
    assert_eq!(status, 200, "{body}");
    (
        body["data"].as_array().unwrap().clone(),
        body["next_cursor"].as_str().map(str::to_string),
    )
}

#[actix_web::test]
async fn token_lists_page_and_search() {
    for backend in Backend::all().await {
        let gw = Gateway::start(&backend, &[]);
        let names: Vec<String> = (0..250)
            .map(|i| {
                if i < 150 {
                    format!("Team-A-{i:03}")
                } else {
                    format!("other_{i:03}")
                }
            })
            .collect();
        for chunk in names.chunks(50) {
            let bodies: Vec<Value> = chunk.iter().map(|name| json!({"name": name})).collect();
            let created = join_all(
                bodies
                    .iter()
                    .map(|body| gw.admin_send("POST", "/admin/tokens", body)),
            )
            .await;
            assert!(created.iter().all(|(s, _)| *s == 201));
        }

        // Every token once, in id order, 100 at a time by default.
        let mut seen = HashSet::new();
        let mut last_id = 0;
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let query = cursor
                .as_ref()
                .map_or(String::new(), |c| format!("?cursor={c}"));
            let (data, next) = page(&gw, &query).await;
            pages += 1;
            assert!(data.len() <= 100);
            for t in &data {
                let id = t["id"].as_i64().unwrap();
                assert!(id > last_id, "ids ascend across pages");
                last_id = id;
                assert!(seen.insert(id), "token {id} listed twice");
            }
            match next {
                Some(c) => {
                    assert_eq!(data.len(), 100);
                    cursor = Some(c);
                }
                None => break,
            }
        }
        assert!(seen.len() >= 250, "{} tokens seen", seen.len());
        assert_eq!(pages, seen.len().div_ceil(100));

        // Search: names containing `q`, any case; `%` and `_` are plain characters.
        let (team, next) = page(&gw, "?q=team-a&limit=1000").await;
        assert_eq!(team.len(), 150);
        assert!(next.is_none());
        assert!(team
            .iter()
            .all(|t| t["name"].as_str().unwrap().starts_with("Team-A-")));
        let (one, _) = page(&gw, "?q=A-149").await;
        assert_eq!(one.len(), 1);
        assert_eq!(page(&gw, "?q=%25").await.0.len(), 0, "% is literal");
        let (underscored, _) = page(&gw, "?q=r_2&limit=1000").await;
        assert_eq!(underscored.len(), 50, "_ is literal: other_200..other_249");
        let (first, next) = page(&gw, "?q=other&limit=30").await;
        assert_eq!(first.len(), 30);
        let (rest, last) = page(
            &gw,
            &format!("?q=other&limit=1000&cursor={}", next.unwrap()),
        )
        .await;
        assert_eq!((rest.len(), last), (70, None));

        for bad in ["?limit=0", "?limit=1001", "?cursor=abc"] {
            let (status, body) = gw
                .admin_send("GET", &format!("/admin/tokens{bad}"), &Value::Null)
                .await;
            assert_eq!(status, 400, "{bad}: {body}");
        }
        drop(gw);
        backend.drop_database().await;
    }
}

/// The short admin lists page the same way: 120 redirects are a page of 100 and one of 20.
#[actix_web::test]
async fn redirects_prices_and_keys_page_like_tokens() {
    let backend = Backend::sqlite();
    let mock = Mock::start();
    let gw = Gateway::start(&backend, &[]);
    gw.add_provider(
        "open",
        &mock,
        Value::Null,
        &["sk-page-0001", "sk-page-0002"],
    )
    .await;
    let bodies: Vec<Value> = (0..120)
        .map(|i| json!({"source": format!("alias-{i:03}"), "target": "gpt-4o-mini"}))
        .collect();
    for chunk in bodies.chunks(40) {
        let done = join_all(
            chunk
                .iter()
                .map(|b| gw.admin_send("PUT", "/admin/model-redirects", b)),
        )
        .await;
        assert!(done.iter().all(|(s, b)| *s == 200 || panic!("{b}")));
    }
    let (status, first) = gw
        .admin_send("GET", "/admin/model-redirects", &Value::Null)
        .await;
    assert_eq!(status, 200);
    assert_eq!(first["data"].as_array().unwrap().len(), 100);
    let cursor = first["next_cursor"].as_str().unwrap().to_string();
    let (_, second) = gw
        .admin_send(
            "GET",
            &format!("/admin/model-redirects?cursor={cursor}"),
            &Value::Null,
        )
        .await;
    let rest = second["data"].as_array().unwrap();
    assert_eq!(rest.len(), 20);
    assert!(second["next_cursor"].is_null());
    let mut sources: Vec<&str> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest)
        .map(|r| r["source"].as_str().unwrap())
        .collect();
    sources.dedup();
    assert_eq!(sources.len(), 120, "each redirect once, in order");

    let (_, keys) = gw
        .admin_send("GET", "/providers/open/keys?limit=1", &Value::Null)
        .await;
    assert_eq!(keys["data"].as_array().unwrap().len(), 1);
    let next = keys["next_cursor"].as_str().unwrap().to_string();
    let (_, keys) = gw
        .admin_send(
            "GET",
            &format!("/providers/open/keys?limit=1&cursor={next}"),
            &Value::Null,
        )
        .await;
    assert_eq!(keys["data"].as_array().unwrap().len(), 1);
    assert!(keys["next_cursor"].is_null());
    let (status, prices) = gw
        .admin_send("GET", "/admin/model-prices?limit=5", &Value::Null)
        .await;
    assert_eq!(status, 200);
    assert_eq!(prices["data"].as_array().unwrap().len(), 5);
    assert!(prices["next_cursor"].is_string());
    let (status, _) = gw
        .admin_send("GET", "/admin/model-prices?cursor=zz", &Value::Null)
        .await;
    assert_eq!(status, 400);
}
