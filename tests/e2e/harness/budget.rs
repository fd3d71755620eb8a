//! Helpers of the budget and billing tests: prices, budgeted tokens, settled rows, an
//! Anthropic provider and Anthropic-style calls.

#![allow(dead_code)]

use std::time::Duration;

use entity::{request_log, token};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};

use super::*;

pub async fn price(gw: &Gateway, model: &str, max_output: Option<u64>) {
    let (status, body) = gw
        .admin_send(
            "PUT",
            "/admin/model-prices",
            &json!({"model": model, "input_per_million": 1.0, "output_per_million": 2.0,
                    "max_output_tokens": max_output}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

pub async fn token_with(gw: &Gateway, limits: Value) -> (i32, String) {
    let mut body = limits;
    body["name"] = json!(format!("budget-{:08x}", rand::random::<u32>()));
    let (status, created) = gw.admin_send("POST", "/admin/tokens", &body).await;
    assert_eq!(status, 201, "{created}");
    (
        created["id"].as_i64().unwrap() as i32,
        created["token"].as_str().unwrap().to_string(),
    )
}

pub async fn settled_row(db: &DatabaseConnection, id: i32, calls: usize) -> token::Model {
    eventually(Duration::from_secs(5), || async {
        let n = request_log::Entity::find()
            .filter(request_log::Column::TokenId.eq(id))
            .all(db)
            .await
            .unwrap_or_default()
            .len();
        (n >= calls).then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("{calls} log rows expected"));
    token::Entity::find_by_id(id)
        .one(db)
        .await
        .unwrap()
        .unwrap()
}

/// A provider `claude` of type anthropic on `mock`, serving `claude-*` with `key`.
pub async fn add_claude(gw: &Gateway, mock: &Mock, key: &str) {
    gw.add_typed_provider(
        "claude",
        "anthropic",
        &mock.v1(),
        json!(["claude-*"]),
        &[key],
    )
    .await;
}

/// An Anthropic-style call (`x-api-key`, `anthropic-version`) to `path`.
pub async fn anthropic_call(gw: &Gateway, path: &str, key: &str, body: &Value) -> (u16, Value) {
    let mut resp = client()
        .post(gw.url(path))
        .insert_header(("x-api-key", key))
        .insert_header(("anthropic-version", "2023-06-01"))
        .send_json(body)
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.body().limit(8 << 20).await.unwrap();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).to_string()));
    (status, value)
}

/// The log rows of a token, newest first, once there are at least `n`.
pub async fn rows_of(db: &DatabaseConnection, token: i32, n: usize) -> Vec<request_log::Model> {
    eventually(Duration::from_secs(5), || async {
        let rows = request_log::Entity::find()
            .filter(request_log::Column::TokenId.eq(token))
            .order_by_desc(request_log::Column::Id)
            .all(db)
            .await
            .unwrap_or_default();
        (rows.len() >= n).then_some(rows)
    })
    .await
    .unwrap_or_else(|| panic!("{n} log rows expected for token {token}"))
}
