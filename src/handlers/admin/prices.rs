//! `/admin/model-prices`: USD per million tokens, per model, optionally per provider.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::mailbox;
use crate::actors::usage_ledger::{ListPrices, PutPrices};
use crate::error::ApiError;
use crate::handlers::support::{authenticate_admin, json_body};
use crate::pricing::Price;
use crate::state::AppState;
use crate::store::prices::PriceRow;

fn view(r: &PriceRow) -> Value {
    json!({
        "model": r.model,
        "provider": (!r.provider.is_empty()).then_some(&r.provider),
        "input_per_million": r.price.input_per_million,
        "output_per_million": r.price.output_per_million,
        "cached_input_per_million": r.price.cached_input_per_million,
        "max_output_tokens": r.price.max_output_tokens,
        "cache_write_per_million": r.price.cache_write_per_million,
    })
}

pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    authenticate_admin(&state, &req).await?;
    let rows = state.ledger.send(ListPrices).await.map_err(mailbox)?;
    let data: Vec<Value> = rows.iter().map(view).collect();
    Ok(HttpResponse::Ok().json(json!({ "data": data })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceBody {
    model: String,
    #[serde(default)]
    provider: Option<String>,
    input_per_million: f64,
    output_per_million: f64,
    #[serde(default)]
    cached_input_per_million: Option<f64>,
    #[serde(default)]
    max_output_tokens: Option<i64>,
    #[serde(default)]
    cache_write_per_million: Option<f64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum PutBody {
    Many(Vec<PriceBody>),
    One(PriceBody),
}

/// `PUT /admin/model-prices` with one price object or an array of them.
pub async fn put(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authenticate_admin(&state, &req).await?;
    let body: PutBody = json_body(&state, &req, payload)
        .await
        .map_err(|e| match e {
            ApiError::InvalidRequest { .. } => ApiError::invalid(
                "body must be a price {model, provider?, input_per_million, output_per_million, \
             cached_input_per_million?, cache_write_per_million?, max_output_tokens?} or an array \
             of them",
            ),
            other => other,
        })?;
    let items = match body {
        PutBody::Many(v) => v,
        PutBody::One(p) => vec![p],
    };
    if items.is_empty() || items.len() > 10_000 {
        return Err(ApiError::invalid("send 1 to 10000 prices"));
    }
    let mut rows = Vec::with_capacity(items.len());
    for p in items {
        let model = p.model.trim().to_string();
        if model.is_empty() || model.len() > 200 {
            return Err(ApiError::invalid_param(
                "model",
                "model must be a model name",
            ));
        }
        let price = Price {
            input_per_million: p.input_per_million,
            output_per_million: p.output_per_million,
            cached_input_per_million: p.cached_input_per_million,
            max_output_tokens: p.max_output_tokens,
            cache_write_per_million: p.cache_write_per_million,
        };
        if !price.is_valid() {
            return Err(ApiError::invalid(format!(
                "prices for '{model}' must be between 0 and 1000000 USD per million tokens, \
                 and max_output_tokens from 1 to 10000000"
            )));
        }
        rows.push(PriceRow {
            provider: p.provider.unwrap_or_default().trim().to_string(),
            model,
            price,
        });
    }
    state
        .ledger
        .send(PutPrices(rows.clone()))
        .await
        .map_err(mailbox)??;
    let data: Vec<Value> = rows.iter().map(view).collect();
    Ok(HttpResponse::Ok().json(json!({ "data": data })))
}
