//! The request log's status index becomes partial: `(created_at, id) WHERE status = 'error'`
//! replaces `(status, created_at, id)`. A successful call — nearly every row — then touches
//! one B-tree fewer when it is logged; the error pages read the (small) partial index, and
//! the success pages read the time index, where nearly every row matches. The filters write
//! the status as a literal so both databases' planners can match the index's condition.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const OLD: &str = "idx_request_logs_status_time";
const NEW: &str = "idx_request_logs_error_time";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared(&format!(
            "CREATE INDEX IF NOT EXISTS {NEW} ON request_logs (created_at, id) \
             WHERE status = 'error'"
        ))
        .await?;
        db.execute_unprepared(&format!("DROP INDEX IF EXISTS {OLD}"))
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared(&format!(
            "CREATE INDEX IF NOT EXISTS {OLD} ON request_logs (status, created_at, id)"
        ))
        .await?;
        db.execute_unprepared(&format!("DROP INDEX IF EXISTS {NEW}"))
            .await?;
        Ok(())
    }
}
