use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "model_prices")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// Provider name, or `""` for a price that applies to every provider.
    pub provider: String,
    pub model: String,
    pub input_per_million: f64,
    pub output_per_million: f64,
    pub cached_input_per_million: Option<f64>,
    /// The model's largest completion, in tokens.
    pub max_output_tokens: Option<i64>,
    /// Price of prompt tokens written to the upstream's cache; `None` bills them as input.
    pub cache_write_per_million: Option<f64>,
    pub updated_at: i64,
    /// Price of prompt tokens written to the cache for an hour.
    pub cache_write_1h_per_million: Option<f64>,
    /// Long-context tiers, a JSON array.
    pub tiers: Option<String>,
    pub flex_multiplier: Option<f64>,
    pub priority_multiplier: Option<f64>,
    /// USD per web search.
    pub web_search_per_use: Option<f64>,
    /// Prices of audio tokens, USD per million.
    pub audio_input_per_million: Option<f64>,
    pub audio_output_per_million: Option<f64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
