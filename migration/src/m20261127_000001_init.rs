//! The whole product's schema: later migrations add columns, not tables.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn id() -> ColumnDef {
    ColumnDef::new(Alias::new("id"))
        .integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

fn text<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).string().not_null().to_owned()
}

fn text_null<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).string().null().to_owned()
}

fn big<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().to_owned()
}

fn big_zero<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .big_integer()
        .not_null()
        .default(0)
        .to_owned()
}

fn big_null<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).big_integer().null().to_owned()
}

fn int<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).integer().not_null().to_owned()
}

fn int_null<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).integer().null().to_owned()
}

fn flag<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).boolean().not_null().to_owned()
}

fn real<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).double().not_null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Providers::Table)
                .if_not_exists()
                .col(id())
                .col(text(Providers::Name).unique_key())
                .col(text(Providers::ApiType))
                .col(text(Providers::BaseUrl))
                .col(ColumnDef::new(Providers::Models).text().null())
                .col(int(Providers::Weight))
                .col(flag(Providers::Enabled))
                .col(big(Providers::CreatedAt))
                .col(big(Providers::UpdatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ProviderKeys::Table)
                .if_not_exists()
                .col(id())
                .col(int(ProviderKeys::ProviderId))
                .col(
                    ColumnDef::new(ProviderKeys::KeyCiphertext)
                        .text()
                        .not_null(),
                )
                .col(text(ProviderKeys::MaskedKey))
                .col(text(ProviderKeys::KeyFingerprint))
                .col(text_null(ProviderKeys::Description))
                .col(int(ProviderKeys::Weight))
                .col(flag(ProviderKeys::Enabled))
                .col(big(ProviderKeys::CreatedAt))
                .col(big(ProviderKeys::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(ProviderKeys::Table, ProviderKeys::ProviderId)
                        .to(Providers::Table, Alias::new("id"))
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_provider_keys_provider")
                .table(ProviderKeys::Table)
                .col(ProviderKeys::ProviderId)
                .if_not_exists()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Tokens::Table)
                .if_not_exists()
                .col(id())
                .col(text(Tokens::Name))
                .col(text(Tokens::TokenHash).unique_key())
                .col(text(Tokens::TokenPrefix))
                .col(text(Tokens::Role))
                .col(ColumnDef::new(Tokens::AllowedModels).text().null())
                .col(big_null(Tokens::MaxTokens))
                .col(big_null(Tokens::MaxAmountNano))
                .col(big_null(Tokens::ExpiresAt))
                .col(flag(Tokens::Enabled))
                .col(int_null(Tokens::Rpm))
                .col(int_null(Tokens::Tpm))
                .col(big_zero(Tokens::PromptTokens))
                .col(big_zero(Tokens::CompletionTokens))
                .col(big_zero(Tokens::TotalTokens))
                .col(big_zero(Tokens::AmountSpentNano))
                .col(big_zero(Tokens::RequestCount))
                .col(big(Tokens::CreatedAt))
                .col(big(Tokens::UpdatedAt))
                .col(big_null(Tokens::LastUsedAt))
                .col(big_null(Tokens::DeletedAt))
                .to_owned(),
        )
        .await?;

        m.create_index(
            Index::create()
                .name("idx_tokens_updated_at")
                .table(Tokens::Table)
                .col(Tokens::UpdatedAt)
                .if_not_exists()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ModelPrices::Table)
                .if_not_exists()
                .col(id())
                .col(text(ModelPrices::Provider))
                .col(text(ModelPrices::Model))
                .col(real(ModelPrices::InputPerMillion))
                .col(real(ModelPrices::OutputPerMillion))
                .col(
                    ColumnDef::new(ModelPrices::CachedInputPerMillion)
                        .double()
                        .null(),
                )
                .col(big(ModelPrices::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_model_prices_provider_model")
                .table(ModelPrices::Table)
                .col(ModelPrices::Provider)
                .col(ModelPrices::Model)
                .unique()
                .if_not_exists()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ModelRedirects::Table)
                .if_not_exists()
                .col(id())
                .col(text(ModelRedirects::Provider))
                .col(text(ModelRedirects::Source))
                .col(text(ModelRedirects::Target))
                .col(big(ModelRedirects::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_model_redirects_provider_source")
                .table(ModelRedirects::Table)
                .col(ModelRedirects::Provider)
                .col(ModelRedirects::Source)
                .unique()
                .if_not_exists()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(RequestLogs::Table)
                .if_not_exists()
                .col(id())
                .col(big(RequestLogs::CreatedAt))
                .col(text(RequestLogs::RequestId))
                .col(int_null(RequestLogs::TokenId))
                .col(text(RequestLogs::Endpoint))
                .col(text_null(RequestLogs::RequestedModel))
                .col(text_null(RequestLogs::Model))
                .col(text_null(RequestLogs::Provider))
                .col(int_null(RequestLogs::KeyId))
                .col(flag(RequestLogs::Stream))
                .col(int(RequestLogs::StatusCode))
                .col(text(RequestLogs::Status))
                .col(text_null(RequestLogs::ErrorType))
                .col(ColumnDef::new(RequestLogs::ErrorMessage).text().null())
                .col(big(RequestLogs::LatencyMs))
                .col(big_null(RequestLogs::FirstByteMs))
                .col(int(RequestLogs::Attempts))
                .col(big_zero(RequestLogs::PromptTokens))
                .col(big_zero(RequestLogs::CompletionTokens))
                .col(big_zero(RequestLogs::TotalTokens))
                .col(big_zero(RequestLogs::CachedTokens))
                .col(big_zero(RequestLogs::ReasoningTokens))
                .col(big_zero(RequestLogs::AmountNano))
                .col(flag(RequestLogs::UsageEstimated))
                .to_owned(),
        )
        .await?;
        for (name, col) in [
            ("idx_request_logs_created_at", RequestLogs::CreatedAt),
            ("idx_request_logs_token_id", RequestLogs::TokenId),
        ] {
            m.create_index(
                Index::create()
                    .name(name)
                    .table(RequestLogs::Table)
                    .col(col)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        }

        m.create_table(
            Table::create()
                .table(AdminKeys::Table)
                .if_not_exists()
                .col(id())
                .col(text(AdminKeys::Name))
                .col(text(AdminKeys::PublicKey))
                .col(text(AdminKeys::Fingerprint).unique_key())
                .col(flag(AdminKeys::Enabled))
                .col(big(AdminKeys::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(AdminSessions::Table)
                .if_not_exists()
                .col(id())
                .col(text(AdminSessions::TokenHash).unique_key())
                .col(int(AdminSessions::AdminKeyId))
                .col(big(AdminSessions::ExpiresAt))
                .col(flag(AdminSessions::Revoked))
                .col(big(AdminSessions::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(LoginChallenges::Table)
                .if_not_exists()
                .col(text(LoginChallenges::Id).primary_key())
                .col(text(LoginChallenges::Fingerprint))
                .col(text(LoginChallenges::Nonce))
                .col(big(LoginChallenges::ExpiresAt))
                .col(flag(LoginChallenges::Used))
                .col(big(LoginChallenges::CreatedAt))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            LoginChallenges::Table.into_iden(),
            AdminSessions::Table.into_iden(),
            AdminKeys::Table.into_iden(),
            RequestLogs::Table.into_iden(),
            ModelRedirects::Table.into_iden(),
            ModelPrices::Table.into_iden(),
            Tokens::Table.into_iden(),
            ProviderKeys::Table.into_iden(),
            Providers::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Providers {
    Table,
    Name,
    ApiType,
    BaseUrl,
    Models,
    Weight,
    Enabled,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ProviderKeys {
    Table,
    ProviderId,
    KeyCiphertext,
    MaskedKey,
    KeyFingerprint,
    Description,
    Weight,
    Enabled,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
#[allow(clippy::enum_variant_names)]
enum Tokens {
    Table,
    Name,
    TokenHash,
    TokenPrefix,
    Role,
    AllowedModels,
    MaxTokens,
    MaxAmountNano,
    ExpiresAt,
    Enabled,
    Rpm,
    Tpm,
    PromptTokens,
    CompletionTokens,
    TotalTokens,
    AmountSpentNano,
    RequestCount,
    CreatedAt,
    UpdatedAt,
    LastUsedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum ModelPrices {
    Table,
    Provider,
    Model,
    InputPerMillion,
    OutputPerMillion,
    CachedInputPerMillion,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ModelRedirects {
    Table,
    Provider,
    Source,
    Target,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RequestLogs {
    Table,
    CreatedAt,
    RequestId,
    TokenId,
    Endpoint,
    RequestedModel,
    Model,
    Provider,
    KeyId,
    Stream,
    StatusCode,
    Status,
    ErrorType,
    ErrorMessage,
    LatencyMs,
    FirstByteMs,
    Attempts,
    PromptTokens,
    CompletionTokens,
    TotalTokens,
    CachedTokens,
    ReasoningTokens,
    AmountNano,
    UsageEstimated,
}

#[derive(DeriveIden)]
enum AdminKeys {
    Table,
    Name,
    PublicKey,
    Fingerprint,
    Enabled,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AdminSessions {
    Table,
    TokenHash,
    AdminKeyId,
    ExpiresAt,
    Revoked,
    CreatedAt,
}

#[derive(DeriveIden)]
enum LoginChallenges {
    Table,
    Id,
    Fingerprint,
    Nonce,
    ExpiresAt,
    Used,
    CreatedAt,
}
