//! The admin plane: indexes for filtered, newest-first log pages; rollups the metrics
//! routes read instead of the log rows (per minute and provider/model, per hour and token,
//! a per-minute latency histogram); the audit trail.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RequestLogs {
    Table,
    Id,
    CreatedAt,
    TokenId,
    Provider,
    Model,
    Status,
}

#[derive(DeriveIden)]
enum RequestRollups {
    Id,
    Bucket,
    Provider,
    Model,
    Requests,
    Errors,
    LatencySumMs,
    FirstByteSumMs,
    FirstByteCount,
    PromptTokens,
    CompletionTokens,
    TotalTokens,
    CachedTokens,
    AmountNano,
}

#[derive(DeriveIden)]
enum TokenRollups {
    Table,
    Id,
    Bucket,
    TokenId,
    Requests,
    Errors,
    TotalTokens,
    AmountNano,
}

#[derive(DeriveIden)]
enum LatencyRollups {
    Id,
    Bucket,
    Slot,
    Count,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    CreatedAt,
    Actor,
    Action,
    Resource,
    Before,
    After,
    RequestId,
}

#[derive(DeriveIden)]
enum LoginChallenges {
    Table,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum AdminSessions {
    Table,
    ExpiresAt,
}

fn big_id<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

fn zero<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .big_integer()
        .not_null()
        .default(0)
        .to_owned()
}

fn index(
    name: &str,
    table: impl IntoIden + 'static,
    cols: Vec<DynIden>,
    unique: bool,
) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(name).table(table).if_not_exists();
    for c in cols {
        i.col(c);
    }
    if unique {
        i.unique();
    }
    i.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Every log page is "newest first, maybe one equality filter, maybe a time range":
        // (filter, created_at, id) serves the filter, the range and the order from one index.
        for old in ["idx_request_logs_created_at", "idx_request_logs_token_id"] {
            m.drop_index(
                Index::drop()
                    .name(old)
                    .table(RequestLogs::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        }
        let time = || {
            vec![
                RequestLogs::CreatedAt.into_iden(),
                RequestLogs::Id.into_iden(),
            ]
        };
        m.create_index(index(
            "idx_request_logs_time",
            RequestLogs::Table,
            time(),
            false,
        ))
        .await?;
        for (name, col) in [
            ("idx_request_logs_token_time", RequestLogs::TokenId),
            ("idx_request_logs_provider_time", RequestLogs::Provider),
            ("idx_request_logs_model_time", RequestLogs::Model),
            ("idx_request_logs_status_time", RequestLogs::Status),
        ] {
            let mut cols = vec![col.into_iden()];
            cols.extend(time());
            m.create_index(index(name, RequestLogs::Table, cols, false))
                .await?;
        }

        // Minutes for the edges of a window, hours for its middle.
        for (table, key) in [
            ("request_rollups", "idx_request_rollups_key"),
            ("request_rollups_hourly", "idx_request_rollups_hourly_key"),
        ] {
            m.create_table(
                Table::create()
                    .table(Alias::new(table))
                    .if_not_exists()
                    .col(big_id(RequestRollups::Id))
                    .col(
                        ColumnDef::new(RequestRollups::Bucket)
                            .big_integer()
                            .not_null(),
                    )
                    // '' stands for "none": unique keys must not hold NULLs to be upserted.
                    .col(
                        ColumnDef::new(RequestRollups::Provider)
                            .string()
                            .not_null()
                            .default(""),
                    )
                    .col(
                        ColumnDef::new(RequestRollups::Model)
                            .string()
                            .not_null()
                            .default(""),
                    )
                    .col(zero(RequestRollups::Requests))
                    .col(zero(RequestRollups::Errors))
                    .col(zero(RequestRollups::LatencySumMs))
                    .col(zero(RequestRollups::FirstByteSumMs))
                    .col(zero(RequestRollups::FirstByteCount))
                    .col(zero(RequestRollups::PromptTokens))
                    .col(zero(RequestRollups::CompletionTokens))
                    .col(zero(RequestRollups::TotalTokens))
                    .col(zero(RequestRollups::CachedTokens))
                    .col(zero(RequestRollups::AmountNano))
                    .to_owned(),
            )
            .await?;
            m.create_index(index(
                key,
                Alias::new(table),
                vec![
                    RequestRollups::Bucket.into_iden(),
                    RequestRollups::Provider.into_iden(),
                    RequestRollups::Model.into_iden(),
                ],
                true,
            ))
            .await?;
        }

        // Per token and hour: a deployment may have thousands of tokens, so minutes would
        // make this table as long as the log.
        m.create_table(
            Table::create()
                .table(TokenRollups::Table)
                .if_not_exists()
                .col(big_id(TokenRollups::Id))
                .col(
                    ColumnDef::new(TokenRollups::Bucket)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(TokenRollups::TokenId)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .col(zero(TokenRollups::Requests))
                .col(zero(TokenRollups::Errors))
                .col(zero(TokenRollups::TotalTokens))
                .col(zero(TokenRollups::AmountNano))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_token_rollups_key",
            TokenRollups::Table,
            vec![
                TokenRollups::Bucket.into_iden(),
                TokenRollups::TokenId.into_iden(),
            ],
            true,
        ))
        .await?;

        // Minutes for the edges of a window, hours for its middle.
        for (table, key) in [
            ("latency_rollups", "idx_latency_rollups_key"),
            ("latency_rollups_hourly", "idx_latency_rollups_hourly_key"),
        ] {
            m.create_table(
                Table::create()
                    .table(Alias::new(table))
                    .if_not_exists()
                    .col(big_id(LatencyRollups::Id))
                    .col(
                        ColumnDef::new(LatencyRollups::Bucket)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(LatencyRollups::Slot).integer().not_null())
                    .col(zero(LatencyRollups::Count))
                    .to_owned(),
            )
            .await?;
            m.create_index(index(
                key,
                Alias::new(table),
                vec![
                    LatencyRollups::Bucket.into_iden(),
                    LatencyRollups::Slot.into_iden(),
                ],
                true,
            ))
            .await?;
        }

        m.create_table(
            Table::create()
                .table(AuditLog::Table)
                .if_not_exists()
                .col(big_id(AuditLog::Id))
                .col(ColumnDef::new(AuditLog::CreatedAt).big_integer().not_null())
                .col(ColumnDef::new(AuditLog::Actor).string().not_null())
                .col(ColumnDef::new(AuditLog::Action).string().not_null())
                .col(ColumnDef::new(AuditLog::Resource).string().not_null())
                .col(ColumnDef::new(AuditLog::Before).text().null())
                .col(ColumnDef::new(AuditLog::After).text().null())
                .col(ColumnDef::new(AuditLog::RequestId).string().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_login_challenges_expires",
            LoginChallenges::Table,
            vec![LoginChallenges::ExpiresAt.into_iden()],
            false,
        ))
        .await?;
        m.create_index(index(
            "idx_admin_sessions_expires",
            AdminSessions::Table,
            vec![AdminSessions::ExpiresAt.into_iden()],
            false,
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "audit_log",
            "latency_rollups",
            "latency_rollups_hourly",
            "token_rollups",
            "request_rollups",
            "request_rollups_hourly",
        ] {
            let table = Alias::new(table);
            m.drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        for old in [
            "idx_request_logs_time",
            "idx_request_logs_token_time",
            "idx_request_logs_provider_time",
            "idx_request_logs_model_time",
            "idx_request_logs_status_time",
        ] {
            m.drop_index(
                Index::drop()
                    .name(old)
                    .table(RequestLogs::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
