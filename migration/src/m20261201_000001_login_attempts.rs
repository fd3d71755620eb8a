//! Login attempts counted across the instances of a cluster: per subject (a key fingerprint
//! or a client address, IPv6 by /64) and database-clock minute.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LoginAttempts {
    Table,
    Subject,
    WindowStart,
    Attempts,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(LoginAttempts::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(LoginAttempts::Subject)
                        .string_len(96)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(LoginAttempts::WindowStart)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(LoginAttempts::Attempts)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .primary_key(
                    Index::create()
                        .col(LoginAttempts::Subject)
                        .col(LoginAttempts::WindowStart),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(LoginAttempts::Table).to_owned())
            .await
    }
}
