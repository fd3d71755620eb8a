//! Key cool-downs shared by the instances of a cluster: `provider_keys.cooldown_until`
//! (the database's clock, Unix ms; 0: not cooling).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ProviderKeys {
    Table,
    CooldownUntil,
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
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(ProviderKeys::Table)
                .drop_column(ProviderKeys::CooldownUntil)
                .to_owned(),
        )
        .await
    }
}
