//! Billing that matches the invoice: 1-hour cache writes, web searches and the service tier
//! and audio tokens on each request-log row; 1-hour write prices, long-context tiers,
//! service-tier multipliers, per-use and audio prices on each price.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ModelPrices {
    Table,
    #[sea_orm(iden = "cache_write_1h_per_million")]
    CacheWrite1hPerMillion,
    Tiers,
    FlexMultiplier,
    PriorityMultiplier,
    WebSearchPerUse,
    AudioInputPerMillion,
    AudioOutputPerMillion,
}

#[derive(DeriveIden)]
enum RequestLogs {
    Table,
    #[sea_orm(iden = "cache_write_1h_tokens")]
    CacheWrite1hTokens,
    WebSearchRequests,
    ServiceTier,
    AudioInputTokens,
    AudioOutputTokens,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for column in [
            ColumnDef::new(ModelPrices::CacheWrite1hPerMillion)
                .double()
                .null()
                .to_owned(),
            ColumnDef::new(ModelPrices::Tiers).text().null().to_owned(),
            ColumnDef::new(ModelPrices::FlexMultiplier)
                .double()
                .null()
                .to_owned(),
            ColumnDef::new(ModelPrices::PriorityMultiplier)
                .double()
                .null()
                .to_owned(),
            ColumnDef::new(ModelPrices::WebSearchPerUse)
                .double()
                .null()
                .to_owned(),
            ColumnDef::new(ModelPrices::AudioInputPerMillion)
                .double()
                .null()
                .to_owned(),
            ColumnDef::new(ModelPrices::AudioOutputPerMillion)
                .double()
                .null()
                .to_owned(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(ModelPrices::Table)
                    .add_column(column)
                    .to_owned(),
            )
            .await?;
        }
        for column in [
            ColumnDef::new(RequestLogs::CacheWrite1hTokens)
                .big_integer()
                .not_null()
                .default(0)
                .to_owned(),
            ColumnDef::new(RequestLogs::WebSearchRequests)
                .big_integer()
                .not_null()
                .default(0)
                .to_owned(),
            ColumnDef::new(RequestLogs::ServiceTier)
                .string()
                .null()
                .to_owned(),
            ColumnDef::new(RequestLogs::AudioInputTokens)
                .big_integer()
                .not_null()
                .default(0)
                .to_owned(),
            ColumnDef::new(RequestLogs::AudioOutputTokens)
                .big_integer()
                .not_null()
                .default(0)
                .to_owned(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(RequestLogs::Table)
                    .add_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            RequestLogs::CacheWrite1hTokens,
            RequestLogs::WebSearchRequests,
            RequestLogs::ServiceTier,
            RequestLogs::AudioInputTokens,
            RequestLogs::AudioOutputTokens,
        ] {
            m.alter_table(
                Table::alter()
                    .table(RequestLogs::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        for column in [
            ModelPrices::CacheWrite1hPerMillion,
            ModelPrices::Tiers,
            ModelPrices::FlexMultiplier,
            ModelPrices::PriorityMultiplier,
            ModelPrices::WebSearchPerUse,
            ModelPrices::AudioInputPerMillion,
            ModelPrices::AudioOutputPerMillion,
        ] {
            m.alter_table(
                Table::alter()
                    .table(ModelPrices::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
