//! `POST /admin/model-prices/import`: a price list in LiteLLM's format (the body) creates
//! or updates the global price of every model it prices (`pricing::litellm` says how names
//! and classes are read); the answer counts what was created, updated and skipped.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::mailbox;
use crate::actors::usage_ledger::{ListPrices, PutPrices};
use crate::error::ApiError;
use crate::handlers::body::json_body_or_array;
use crate::handlers::extract::AdminAuth;
use crate::handlers::schemas::ErrorBody;
use crate::pricing::litellm;
use crate::state::AppState;
use crate::store::prices::PriceRow;

/// Skipped entries listed in an answer, at most.
const LISTED_SKIPS: usize = 200;

#[derive(Serialize, ToSchema)]
pub struct ImportResult {
    pub created: usize,
    pub updated: usize,
    pub skipped: usize,
    /// The first skipped entries and why (at most 200).
    pub skipped_entries: Vec<SkippedEntry>,
}

#[derive(Serialize, ToSchema)]
pub struct SkippedEntry {
    pub model: String,
    pub reason: String,
}

/// What an import of `list` changes in `current`: the rows to write, and the answer.
pub fn plan(list: &Map<String, Value>, current: &[PriceRow]) -> (Vec<PriceRow>, ImportResult) {
    let imported = litellm::read(list);
    let mut result = ImportResult {
        created: 0,
        updated: 0,
        skipped: imported.skipped.len(),
        skipped_entries: imported
            .skipped
            .iter()
            .take(LISTED_SKIPS)
            .map(|(model, reason)| SkippedEntry {
                model: crate::core::text::truncate(model, 200),
                reason: reason.clone(),
            })
            .collect(),
    };
    let rows: Vec<PriceRow> = imported
        .prices
        .into_iter()
        .map(|(model, price)| {
            let exists = current
                .iter()
                .any(|c| c.provider.is_empty() && c.model == model);
            if exists {
                result.updated += 1;
            } else {
                result.created += 1;
            }
            PriceRow {
                provider: String::new(),
                model,
                price,
            }
        })
        .collect();
    (rows, result)
}

#[utoipa::path(post, path = "/admin/model-prices/import", tag = "admin", security(("bearer" = [])),
    request_body(content = Object, description = "LiteLLM's model_prices_and_context_window.json"),
    responses((status = 200, body = ImportResult), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn import(
    admin: AdminAuth,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let list: Map<String, Value> = json_body_or_array(&state, &req, payload)
        .await
        .map_err(|_| ApiError::invalid("body must be a price list object in LiteLLM's format"))?;
    let current = state.ledger.send(ListPrices).await.map_err(mailbox)?;
    let (rows, result) = plan(&list, &current);
    for chunk in rows.chunks(1000) {
        state
            .ledger
            .send(PutPrices(chunk.to_vec()))
            .await
            .map_err(mailbox)??;
    }
    admin
        .audit(
            "import",
            format!("prices/{}", rows.len()),
            None,
            Some(
                serde_json::json!({"created": result.created, "updated": result.updated,
                "skipped": result.skipped}),
            ),
        )
        .await;
    Ok(HttpResponse::Ok().json(result))
}
