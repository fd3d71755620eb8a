//! Hard budgets and 64-bit log ids: models get their largest output in the price book, and
//! `request_logs.id` becomes 64-bit on Postgres (SQLite's integer key already is).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ModelPrices {
    Table,
    MaxOutputTokens,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(ModelPrices::Table)
                .add_column(
                    ColumnDef::new(ModelPrices::MaxOutputTokens)
                        .big_integer()
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        if m.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            let db = m.get_connection();
            db.execute_unprepared("ALTER TABLE request_logs ALTER COLUMN id TYPE BIGINT")
                .await?;
            db.execute_unprepared("ALTER SEQUENCE IF EXISTS request_logs_id_seq AS BIGINT")
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(ModelPrices::Table)
                .drop_column(ModelPrices::MaxOutputTokens)
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
