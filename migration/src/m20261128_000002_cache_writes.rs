//! Prompt-cache writes (Anthropic's `cache_creation_input_tokens`) are counted and priced
//! apart from cache reads.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ModelPrices {
    Table,
    CacheWritePerMillion,
}

#[derive(DeriveIden)]
enum RequestLogs {
    Table,
    CacheWriteTokens,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(ModelPrices::Table)
                .add_column(
                    ColumnDef::new(ModelPrices::CacheWritePerMillion)
                        .double()
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(RequestLogs::Table)
                .add_column(
                    ColumnDef::new(RequestLogs::CacheWriteTokens)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(RequestLogs::Table)
                .drop_column(RequestLogs::CacheWriteTokens)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(ModelPrices::Table)
                .drop_column(ModelPrices::CacheWritePerMillion)
                .to_owned(),
        )
        .await
    }
}
