//! What the instances of a cluster share beyond settings: key cool-downs
//! (`provider_keys.cooldown_until`, the database's clock, Unix ms; 0: not cooling) and
//! budget holds (`tokens.held_tokens` / `held_nano`, one `budget_holds` row per hold; since
//! budgets are leased, one row per instance's lease on a token).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ProviderKeys {
    Table,
    CooldownUntil,
}

#[derive(DeriveIden)]
#[allow(clippy::enum_variant_names)]
enum Tokens {
    Table,
    HeldTokens,
    HeldNano,
}

#[derive(DeriveIden)]
enum RateWindows {
    Table,
    TokenId,
    WindowStart,
    Requests,
    Tokens,
}

#[derive(DeriveIden)]
enum BudgetHolds {
    Table,
    Id,
    TokenId,
    Tokens,
    Nano,
    ExpiresAt,
}

fn zero<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .big_integer()
        .not_null()
        .default(0)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(ProviderKeys::Table)
                .add_column(
                    ColumnDef::new(ProviderKeys::CooldownUntil)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .to_owned(),
        )
        .await?;
        for col in [Tokens::HeldTokens, Tokens::HeldNano] {
            m.alter_table(
                Table::alter()
                    .table(Tokens::Table)
                    .add_column(zero(col))
                    .to_owned(),
            )
            .await?;
        }
        m.create_table(
            Table::create()
                .table(BudgetHolds::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(BudgetHolds::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new(BudgetHolds::TokenId).integer().not_null())
                .col(zero(BudgetHolds::Tokens))
                .col(zero(BudgetHolds::Nano))
                .col(
                    ColumnDef::new(BudgetHolds::ExpiresAt)
                        .big_integer()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(RateWindows::Table)
                .if_not_exists()
                .col(ColumnDef::new(RateWindows::TokenId).integer().not_null())
                .col(
                    ColumnDef::new(RateWindows::WindowStart)
                        .big_integer()
                        .not_null(),
                )
                .col(zero(RateWindows::Requests))
                .col(zero(RateWindows::Tokens))
                .primary_key(
                    Index::create()
                        .col(RateWindows::TokenId)
                        .col(RateWindows::WindowStart),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_budget_holds_expires")
                .table(BudgetHolds::Table)
                .col(BudgetHolds::ExpiresAt)
                .if_not_exists()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(BudgetHolds::Table)
                .if_exists()
                .to_owned(),
        )
        .await?;
        for col in [Tokens::HeldTokens, Tokens::HeldNano] {
            m.alter_table(
                Table::alter()
                    .table(Tokens::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        m.alter_table(
            Table::alter()
                .table(ProviderKeys::Table)
                .drop_column(ProviderKeys::CooldownUntil)
                .to_owned(),
        )
        .await
    }
}
