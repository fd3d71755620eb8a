//! Who spent it: the end user and the session on each request-log row (filterable, each
//! with a partial `(column, created_at, id)` index over the rows that name one); hourly rollups per
//! end user and the sessions each end user named (first and last seen), which
//! `/admin/metrics/end-users` reads instead of the log.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RequestLogs {
    Table,
    EndUser,
    SessionId,
}

#[derive(DeriveIden)]
enum EndUserRollups {
    Table,
    Id,
    Bucket,
    EndUser,
    Requests,
    Errors,
    TotalTokens,
    AmountNano,
}

#[derive(DeriveIden)]
enum EndUserSessions {
    Table,
    Id,
    EndUser,
    SessionId,
    FirstSeen,
    LastSeen,
}

fn zero(col: EndUserRollups) -> ColumnDef {
    ColumnDef::new(col)
        .big_integer()
        .not_null()
        .default(0)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for column in [RequestLogs::EndUser, RequestLogs::SessionId] {
            m.alter_table(
                Table::alter()
                    .table(RequestLogs::Table)
                    .add_column(ColumnDef::new(column).string().null())
                    .to_owned(),
            )
            .await?;
        }
        // Partial indexes: a row without an end user (or session) touches neither, so calls
        // that name nobody cost the log writer nothing more. `end_user = ?` implies the
        // condition, so the filters use them (SQLite and Postgres alike).
        for (name, column) in [
            ("idx_request_logs_end_user_time", "end_user"),
            ("idx_request_logs_session_time", "session_id"),
        ] {
            m.get_connection()
                .execute_unprepared(&format!(
                    "CREATE INDEX IF NOT EXISTS {name} ON request_logs ({column}, created_at, id) \
                     WHERE {column} IS NOT NULL"
                ))
                .await?;
        }
        m.create_table(
            Table::create()
                .table(EndUserRollups::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(EndUserRollups::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(EndUserRollups::Bucket)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(EndUserRollups::EndUser).string().not_null())
                .col(zero(EndUserRollups::Requests))
                .col(zero(EndUserRollups::Errors))
                .col(zero(EndUserRollups::TotalTokens))
                .col(zero(EndUserRollups::AmountNano))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_end_user_rollups_key")
                .table(EndUserRollups::Table)
                .col(EndUserRollups::Bucket)
                .col(EndUserRollups::EndUser)
                .unique()
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(EndUserSessions::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(EndUserSessions::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new(EndUserSessions::EndUser).string().not_null())
                .col(
                    ColumnDef::new(EndUserSessions::SessionId)
                        .string()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(EndUserSessions::FirstSeen)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(EndUserSessions::LastSeen)
                        .big_integer()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_end_user_sessions_key")
                .table(EndUserSessions::Table)
                .col(EndUserSessions::EndUser)
                .col(EndUserSessions::SessionId)
                .unique()
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        // Retention deletes sessions not seen since its cutoff.
        m.create_index(
            Index::create()
                .name("idx_end_user_sessions_last_seen")
                .table(EndUserSessions::Table)
                .col(EndUserSessions::LastSeen)
                .if_not_exists()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(EndUserSessions::Table)
                .if_exists()
                .to_owned(),
        )
        .await?;
        m.drop_table(
            Table::drop()
                .table(EndUserRollups::Table)
                .if_exists()
                .to_owned(),
        )
        .await?;
        for name in [
            "idx_request_logs_end_user_time",
            "idx_request_logs_session_time",
        ] {
            m.drop_index(
                Index::drop()
                    .name(name)
                    .table(RequestLogs::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        }
        for column in [RequestLogs::EndUser, RequestLogs::SessionId] {
            m.alter_table(
                Table::alter()
                    .table(RequestLogs::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
