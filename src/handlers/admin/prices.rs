//! `/admin/model-prices`: USD per million tokens, per model, optionally per provider.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::mailbox;
use crate::actors::usage_ledger::{DeletePrice, ListPrices, PutPrices};
use crate::error::ApiError;
use crate::handlers::body::json_body_or_array;
use crate::handlers::extract::AdminAuth;
use crate::handlers::schemas::ErrorBody;
use crate::pricing::{Price, Tier, MAX_TIERS};
use crate::state::AppState;
use crate::store::prices::PriceRow;

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct PriceView {
    pub model: String,
    /// null: the price for every provider without its own.
    pub provider: Option<String>,
    pub input_per_million: f64,
    pub output_per_million: f64,
    pub cached_input_per_million: Option<f64>,
    pub max_output_tokens: Option<i64>,
    /// 5-minute cache writes.
    pub cache_write_per_million: Option<f64>,
    /// 1-hour cache writes.
    pub cache_write_1h_per_million: Option<f64>,
    /// Long-context prices for the whole call when its input passes `above_input_tokens`.
    pub tiers: Vec<Tier>,
    pub service_tiers: ServiceTiers,
    pub per_request: PerRequest,
    /// Audio tokens in the prompt and the completion.
    pub audio_input_per_million: Option<f64>,
    pub audio_output_per_million: Option<f64>,
}

/// Multipliers of the token prices for answers served at these tiers.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct ServiceTiers {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flex: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<f64>,
}

/// USD per server-tool use.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct PerRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_search: Option<f64>,
}

impl From<&PriceRow> for PriceView {
    fn from(r: &PriceRow) -> Self {
        let p = &r.price;
        PriceView {
            model: r.model.clone(),
            provider: (!r.provider.is_empty()).then(|| r.provider.clone()),
            input_per_million: p.input_per_million,
            output_per_million: p.output_per_million,
            cached_input_per_million: p.cached_input_per_million,
            max_output_tokens: p.max_output_tokens,
            cache_write_per_million: p.cache_write_per_million,
            cache_write_1h_per_million: p.cache_write_1h_per_million,
            tiers: p.tier_list(),
            service_tiers: ServiceTiers {
                flex: p.flex_multiplier,
                priority: p.priority_multiplier,
            },
            per_request: PerRequest {
                web_search: p.web_search_per_use,
            },
            audio_input_per_million: p.audio_input_per_million,
            audio_output_per_million: p.audio_output_per_million,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PriceList {
    pub data: Vec<PriceView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/admin/model-prices", tag = "admin", security(("bearer" = [])),
    params(super::paging::PageQuery),
    responses((status = 200, body = PriceList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    _: AdminAuth,
    query: web::Query<super::paging::PageQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let rows = state.ledger.send(ListPrices).await.map_err(mailbox)?;
    let (rows, next_cursor) =
        super::paging::page(rows, |r| format!("{}\u{0}{}", r.provider, r.model), &query)?;
    Ok(HttpResponse::Ok().json(PriceList {
        data: rows.iter().map(PriceView::from).collect(),
        next_cursor,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceBody {
    pub model: String,
    #[serde(default)]
    pub provider: Option<String>,
    pub input_per_million: f64,
    pub output_per_million: f64,
    #[serde(default)]
    pub cached_input_per_million: Option<f64>,
    #[serde(default)]
    pub max_output_tokens: Option<i64>,
    #[serde(default)]
    pub cache_write_per_million: Option<f64>,
    #[serde(default)]
    pub cache_write_1h_per_million: Option<f64>,
    #[serde(default)]
    pub tiers: Vec<Tier>,
    #[serde(default)]
    pub service_tiers: ServiceTiers,
    #[serde(default)]
    pub per_request: PerRequest,
    #[serde(default)]
    pub audio_input_per_million: Option<f64>,
    #[serde(default)]
    pub audio_output_per_million: Option<f64>,
}

/// One price or an array of up to 10,000.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum PutBody {
    Many(Vec<PriceBody>),
    One(Box<PriceBody>),
}

/// `PUT /admin/model-prices` with one price object or an array of them.
#[utoipa::path(put, path = "/admin/model-prices", tag = "admin", security(("bearer" = [])),
    request_body = PutBody,
    responses((status = 200, body = PriceList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn put(
    admin: AdminAuth,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: PutBody = json_body_or_array(&state, &req, payload)
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
        PutBody::One(p) => vec![*p],
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
        let provider = p.provider.unwrap_or_default().trim().to_string();
        if provider.len() > 200 {
            return Err(ApiError::invalid_param(
                "provider",
                "provider must be a provider name",
            ));
        }
        let mut price = Price {
            input_per_million: p.input_per_million,
            output_per_million: p.output_per_million,
            cached_input_per_million: p.cached_input_per_million,
            max_output_tokens: p.max_output_tokens,
            cache_write_per_million: p.cache_write_per_million,
            cache_write_1h_per_million: p.cache_write_1h_per_million,
            flex_multiplier: p.service_tiers.flex,
            priority_multiplier: p.service_tiers.priority,
            web_search_per_use: p.per_request.web_search,
            audio_input_per_million: p.audio_input_per_million,
            audio_output_per_million: p.audio_output_per_million,
            ..Price::default()
        }
        .with_family_defaults(&model);
        if price.set_tiers(p.tiers).is_none() || !price.is_valid() {
            return Err(ApiError::invalid(format!(
                "prices for '{model}' must be between 0 and 1000000 USD per million tokens \
                 (per use for per_request), service tier multipliers 0 to 100, at most \
                 {MAX_TIERS} tiers, and max_output_tokens from 1 to 10000000"
            )));
        }
        rows.push(PriceRow {
            provider,
            model,
            price,
        });
    }
    let before: Vec<PriceView> = {
        let current = state.ledger.send(ListPrices).await.map_err(mailbox)?;
        current
            .iter()
            .filter(|c| {
                rows.iter()
                    .any(|r| r.provider == c.provider && r.model == c.model)
            })
            .map(PriceView::from)
            .collect()
    };
    state
        .ledger
        .send(PutPrices(rows.clone()))
        .await
        .map_err(mailbox)??;
    let data: Vec<PriceView> = rows.iter().map(PriceView::from).collect();
    let resource = match data.as_slice() {
        [one] => format!("price/{}", one.model),
        many => format!("prices/{}", many.len()),
    };
    admin
        .audit(
            "update",
            resource,
            (!before.is_empty())
                .then(|| AdminAuth::snapshot(&before))
                .flatten(),
            AdminAuth::snapshot(&data),
        )
        .await;
    Ok(HttpResponse::Ok().json(PriceList {
        data,
        next_cursor: None,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PriceKey {
    pub model: String,
    /// Omit for the price that applies to every provider.
    pub provider: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DeletedPrice {
    pub deleted: bool,
}

#[utoipa::path(delete, path = "/admin/model-prices", tag = "admin", security(("bearer" = [])),
    params(PriceKey),
    responses((status = 200, body = DeletedPrice), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    admin: AdminAuth,
    query: web::Query<PriceKey>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let PriceKey { model, provider } = query.into_inner();
    let provider = provider.unwrap_or_default();
    let before = state
        .ledger
        .send(ListPrices)
        .await
        .map_err(mailbox)?
        .iter()
        .find(|r| r.provider == provider && r.model == model)
        .map(PriceView::from);
    state
        .ledger
        .send(DeletePrice {
            provider,
            model: model.clone(),
        })
        .await
        .map_err(mailbox)??;
    admin
        .audit(
            "delete",
            format!("price/{model}"),
            before.as_ref().and_then(AdminAuth::snapshot),
            None,
        )
        .await;
    Ok(HttpResponse::Ok().json(DeletedPrice { deleted: true }))
}
