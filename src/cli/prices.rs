//! `gateway-zero prices import FILE`: LiteLLM's price list straight into the configured
//! database (what `POST /admin/model-prices/import` does through a running gateway, which
//! picks the rows up at its next sync).

use std::path::Path;

use serde_json::{Map, Value};

use crate::db;
use crate::handlers::admin::price_import::plan;
use crate::settings::Settings;
use crate::store::changes::{self, Change};
use crate::store::prices;

pub async fn import(settings: &Settings, file: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let list: Map<String, Value> = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a LiteLLM price list: {e}", file.display()))?;
    let conn = db::connect(settings).await?;
    db::migrate(&conn).await?;
    let current = prices::load(&conn)
        .await
        .map_err(|e| format!("cannot read prices: {e}"))?;
    let (rows, result) = plan(&list, &current);
    for chunk in rows.chunks(1000) {
        prices::upsert(&conn, chunk)
            .await
            .map_err(|e| format!("cannot save prices: {e}"))?;
    }
    changes::announce(&conn, Change::Accounts).await;
    println!(
        "{}",
        serde_json::to_string_pretty(&result).unwrap_or_default()
    );
    Ok(())
}
