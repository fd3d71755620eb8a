//! `model_prices`: the default list is seeded for models without a row; admins edit rows.

use entity::model_price;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::pricing::defaults::default_prices;
use crate::pricing::Price;
use crate::time::now_ms;

#[derive(Debug, Clone, PartialEq)]
pub struct PriceRow {
    /// `""` for every provider.
    pub provider: String,
    pub model: String,
    pub price: Price,
}

pub async fn load(db: &DatabaseConnection) -> Result<Vec<PriceRow>, DbErr> {
    Ok(model_price::Entity::find()
        .order_by_asc(model_price::Column::Provider)
        .order_by_asc(model_price::Column::Model)
        .all(db)
        .await?
        .into_iter()
        .map(|m| PriceRow {
            provider: m.provider.clone(),
            model: m.model.clone(),
            price: {
                let mut price = Price {
                    input_per_million: m.input_per_million,
                    output_per_million: m.output_per_million,
                    cached_input_per_million: m.cached_input_per_million,
                    max_output_tokens: m.max_output_tokens,
                    cache_write_per_million: m.cache_write_per_million,
                    cache_write_1h_per_million: m.cache_write_1h_per_million,
                    flex_multiplier: m.flex_multiplier,
                    priority_multiplier: m.priority_multiplier,
                    web_search_per_use: m.web_search_per_use,
                    audio_input_per_million: m.audio_input_per_million,
                    audio_output_per_million: m.audio_output_per_million,
                    ..Price::default()
                };
                // A damaged tier list prices the base rates only.
                let tiers = m
                    .tiers
                    .as_deref()
                    .and_then(|t| serde_json::from_str(t).ok())
                    .unwrap_or_default();
                let _ = price.set_tiers(tiers);
                price.with_family_defaults(&m.model)
            },
        })
        .collect())
}

fn active(row: &PriceRow, updated_at: i64) -> model_price::ActiveModel {
    model_price::ActiveModel {
        provider: Set(row.provider.clone()),
        model: Set(row.model.clone()),
        input_per_million: Set(row.price.input_per_million),
        output_per_million: Set(row.price.output_per_million),
        cached_input_per_million: Set(row.price.cached_input_per_million),
        max_output_tokens: Set(row.price.max_output_tokens),
        cache_write_per_million: Set(row.price.cache_write_per_million),
        cache_write_1h_per_million: Set(row.price.cache_write_1h_per_million),
        tiers: Set({
            let tiers = row.price.tier_list();
            (!tiers.is_empty()).then(|| serde_json::to_string(&tiers).unwrap_or_default())
        }),
        flex_multiplier: Set(row.price.flex_multiplier),
        priority_multiplier: Set(row.price.priority_multiplier),
        web_search_per_use: Set(row.price.web_search_per_use),
        audio_input_per_million: Set(row.price.audio_input_per_million),
        audio_output_per_million: Set(row.price.audio_output_per_million),
        updated_at: Set(updated_at),
        ..Default::default()
    }
}

/// Inserts or replaces prices, all in one statement.
pub async fn upsert(db: &DatabaseConnection, rows: &[PriceRow]) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    model_price::Entity::insert_many(rows.iter().map(|r| active(r, now)))
        .on_conflict(
            OnConflict::columns([model_price::Column::Provider, model_price::Column::Model])
                .update_columns([
                    model_price::Column::InputPerMillion,
                    model_price::Column::OutputPerMillion,
                    model_price::Column::CachedInputPerMillion,
                    model_price::Column::MaxOutputTokens,
                    model_price::Column::CacheWritePerMillion,
                    model_price::Column::CacheWrite1hPerMillion,
                    model_price::Column::Tiers,
                    model_price::Column::FlexMultiplier,
                    model_price::Column::PriorityMultiplier,
                    model_price::Column::WebSearchPerUse,
                    model_price::Column::AudioInputPerMillion,
                    model_price::Column::AudioOutputPerMillion,
                    model_price::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// Adds default prices for models that have no global row (never overwrites an edit), and
/// the largest output of known models to default rows that lack it.
pub async fn seed_defaults(db: &DatabaseConnection) -> Result<(), DbErr> {
    let rows: Vec<model_price::ActiveModel> = default_prices()
        .iter()
        .map(|(model, price)| {
            active(
                &PriceRow {
                    provider: String::new(),
                    model: model.clone(),
                    price: *price,
                },
                0,
            )
        })
        .collect();
    // Rows seeded before these columns existed get them (only where still unset); the
    // classes added since (1-hour writes, service tiers, web searches, tiers) only on rows
    // no admin edited.
    for (model, price) in default_prices() {
        let tiers = price.tier_list();
        for (column, value, seeded_only) in [
            (
                model_price::Column::MaxOutputTokens,
                sea_orm::Value::from(price.max_output_tokens),
                false,
            ),
            (
                model_price::Column::CacheWritePerMillion,
                sea_orm::Value::from(price.cache_write_per_million),
                false,
            ),
            (
                model_price::Column::CacheWrite1hPerMillion,
                sea_orm::Value::from(price.cache_write_1h_per_million),
                true,
            ),
            (
                model_price::Column::FlexMultiplier,
                sea_orm::Value::from(price.flex_multiplier),
                true,
            ),
            (
                model_price::Column::PriorityMultiplier,
                sea_orm::Value::from(price.priority_multiplier),
                true,
            ),
            (
                model_price::Column::WebSearchPerUse,
                sea_orm::Value::from(price.web_search_per_use),
                true,
            ),
            (
                model_price::Column::Tiers,
                sea_orm::Value::from(
                    (!tiers.is_empty()).then(|| serde_json::to_string(&tiers).unwrap_or_default()),
                ),
                true,
            ),
        ] {
            if matches!(
                value,
                sea_orm::Value::BigInt(None)
                    | sea_orm::Value::Double(None)
                    | sea_orm::Value::String(None)
            ) {
                continue;
            }
            let mut update = model_price::Entity::update_many()
                .col_expr(column, Expr::value(value))
                .filter(model_price::Column::Provider.eq(""))
                .filter(model_price::Column::Model.eq(model.as_str()))
                .filter(column.is_null());
            if seeded_only {
                update = update.filter(model_price::Column::UpdatedAt.eq(0));
            }
            update.exec(db).await?;
        }
    }
    model_price::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([model_price::Column::Provider, model_price::Column::Model])
                .do_nothing()
                .to_owned(),
        )
        .do_nothing()
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes one price row; false when there was none.
pub async fn delete(db: &DatabaseConnection, provider: &str, model: &str) -> Result<bool, DbErr> {
    use sea_orm::{ColumnTrait, QueryFilter};
    Ok(model_price::Entity::delete_many()
        .filter(model_price::Column::Provider.eq(provider))
        .filter(model_price::Column::Model.eq(model))
        .exec(db)
        .await?
        .rows_affected
        > 0)
}
