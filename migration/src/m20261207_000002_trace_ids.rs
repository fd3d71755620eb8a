//! The W3C trace a call belongs to, on its request-log row (`trace_id`, 32 hex digits, null
//! when the client sent no valid `traceparent`). Not indexed: the row links to the trace,
//! not the other way round, so a traced call costs the log writer no B-tree more.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RequestLogs {
    Table,
    TraceId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(RequestLogs::Table)
                .add_column(ColumnDef::new(RequestLogs::TraceId).string().null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(RequestLogs::Table)
                .drop_column(RequestLogs::TraceId)
                .to_owned(),
        )
        .await
    }
}
