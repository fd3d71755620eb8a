//! Concurrency caps: `max_parallel` on tokens (calls in flight at once; null: no cap), and
//! the slots each instance of a cluster holds (Postgres; rows expire unless renewed, so an
//! instance that died gives its slots back).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tokens {
    Table,
    MaxParallel,
}

#[derive(DeriveIden)]
enum ParallelHolds {
    Table,
    Id,
    TokenId,
    Slots,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Tokens::Table)
                .add_column(ColumnDef::new(Tokens::MaxParallel).integer().null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ParallelHolds::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(ParallelHolds::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new(ParallelHolds::TokenId).integer().not_null())
                .col(
                    ColumnDef::new(ParallelHolds::Slots)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .col(
                    ColumnDef::new(ParallelHolds::ExpiresAt)
                        .big_integer()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_parallel_holds_token")
                .table(ParallelHolds::Table)
                .col(ParallelHolds::TokenId)
                .if_not_exists()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(ParallelHolds::Table)
                .if_exists()
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Tokens::Table)
                .drop_column(Tokens::MaxParallel)
                .to_owned(),
        )
        .await
    }
}
