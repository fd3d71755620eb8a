//! Responses-API state: stored responses (encrypted conversation, owner token, chain link)
//! and which protocol each provider serves `/v1/responses` with.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum StoredResponses {
    Table,
    Id,
    TokenId,
    PreviousId,
    Input,
    Response,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Providers {
    Table,
    Responses,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(StoredResponses::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(StoredResponses::Id)
                        .string_len(96)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(StoredResponses::TokenId)
                        .integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(StoredResponses::PreviousId)
                        .string_len(96)
                        .null(),
                )
                .col(ColumnDef::new(StoredResponses::Input).text().not_null())
                .col(ColumnDef::new(StoredResponses::Response).text().not_null())
                .col(
                    ColumnDef::new(StoredResponses::CreatedAt)
                        .big_integer()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_stored_responses_created_at")
                .table(StoredResponses::Table)
                .col(StoredResponses::CreatedAt)
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        // `native` or `chat`; null: by base URL (native for api.openai.com).
        m.alter_table(
            Table::alter()
                .table(Providers::Table)
                .add_column(ColumnDef::new(Providers::Responses).string_len(16).null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Providers::Table)
                .drop_column(Providers::Responses)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(StoredResponses::Table).to_owned())
            .await
    }
}
