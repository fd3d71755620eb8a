//! Request log rows, written in batches by the `LogSink`.

use entity::request_log;
use sea_orm::{DatabaseConnection, DbErr, EntityTrait, Set};

/// One finished call, success or failure. Holds no secrets: the key is named by id only.
#[derive(Debug, Clone, Default)]
pub struct LogEntry {
    pub created_at: i64,
    pub request_id: String,
    pub token_id: Option<i32>,
    pub endpoint: &'static str,
    pub requested_model: Option<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub key_id: Option<i32>,
    pub stream: bool,
    pub status_code: u16,
    pub error_type: Option<String>,
    pub error_message: Option<String>,
    pub latency_ms: i64,
    pub first_byte_ms: Option<i64>,
    pub attempts: u32,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub cached_tokens: i64,
    pub reasoning_tokens: i64,
    pub amount_nano: i64,
    pub usage_estimated: bool,
}

impl LogEntry {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status_code)
    }

    fn into_active(self) -> request_log::ActiveModel {
        let status = if self.is_success() {
            "success"
        } else {
            "error"
        };
        request_log::ActiveModel {
            created_at: Set(self.created_at),
            request_id: Set(self.request_id),
            token_id: Set(self.token_id),
            endpoint: Set(self.endpoint.to_string()),
            requested_model: Set(self.requested_model),
            model: Set(self.model),
            provider: Set(self.provider),
            key_id: Set(self.key_id),
            stream: Set(self.stream),
            status_code: Set(self.status_code as i32),
            status: Set(status.to_string()),
            error_type: Set(self.error_type),
            error_message: Set(self.error_message),
            latency_ms: Set(self.latency_ms),
            first_byte_ms: Set(self.first_byte_ms),
            attempts: Set(self.attempts as i32),
            prompt_tokens: Set(self.prompt_tokens),
            completion_tokens: Set(self.completion_tokens),
            total_tokens: Set(self.total_tokens),
            cached_tokens: Set(self.cached_tokens),
            reasoning_tokens: Set(self.reasoning_tokens),
            amount_nano: Set(self.amount_nano),
            usage_estimated: Set(self.usage_estimated),
            ..Default::default()
        }
    }
}

/// Inserts rows in chunks small enough for every backend's bind-parameter limit.
pub async fn insert_batch(db: &DatabaseConnection, rows: Vec<LogEntry>) -> Result<(), DbErr> {
    // 23 columns per row; SQLite allows 32766 binds, Postgres 65535.
    const CHUNK: usize = 1000;
    let mut rows = rows.into_iter().map(LogEntry::into_active).peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(CHUNK).collect();
        request_log::Entity::insert_many(chunk).exec(db).await?;
    }
    Ok(())
}
