//! Request log rows, written in batches by the `LogSink`.

use std::collections::BTreeMap;

use entity::{request_log, token};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};

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

/// Per-token sums of a batch of rows, added to the token's counters.
#[derive(Default)]
struct Increment {
    prompt: i64,
    completion: i64,
    total: i64,
    amount: i64,
    requests: i64,
    last_used: i64,
}

/// Writes a batch in one transaction: the log rows and, with `counters`, the token usage
/// counters they add up to (atomic `col = col + n` updates). Either both land or neither,
/// so the log and the counters always agree.
pub async fn write_batch(
    db: &DatabaseConnection,
    rows: &[LogEntry],
    counters: bool,
) -> Result<(), DbErr> {
    // Fixed-size statements: full chunks share one SQL text, so the driver's statement cache
    // saves SQLite re-parsing a fresh multi-thousand-parameter insert for every batch.
    const CHUNK: usize = 64;
    let mut increments: BTreeMap<i32, Increment> = BTreeMap::new();
    if counters {
        for row in rows {
            let Some(id) = row.token_id else { continue };
            let inc = increments.entry(id).or_default();
            inc.prompt += row.prompt_tokens;
            inc.completion += row.completion_tokens;
            inc.total += row.total_tokens;
            inc.amount += row.amount_nano;
            inc.requests += 1;
            inc.last_used = inc.last_used.max(row.created_at);
        }
    }
    let txn = db.begin().await?;
    for chunk in rows.chunks(CHUNK) {
        request_log::Entity::insert_many(chunk.iter().cloned().map(LogEntry::into_active))
            .exec(&txn)
            .await?;
    }
    for (id, inc) in increments {
        let add = |col: token::Column, n: i64| (col, Expr::col(col).add(n));
        let mut update = token::Entity::update_many();
        for (col, expr) in [
            add(token::Column::PromptTokens, inc.prompt),
            add(token::Column::CompletionTokens, inc.completion),
            add(token::Column::TotalTokens, inc.total),
            add(token::Column::AmountSpentNano, inc.amount),
            add(token::Column::RequestCount, inc.requests),
        ] {
            update = update.col_expr(col, expr);
        }
        update
            .col_expr(token::Column::LastUsedAt, Expr::value(inc.last_used))
            .filter(token::Column::Id.eq(id))
            .exec(&txn)
            .await?;
    }
    txn.commit().await
}

/// The newest `limit` log rows of a token.
pub async fn recent_for_token(
    db: &DatabaseConnection,
    token_id: i32,
    limit: u64,
) -> Result<Vec<request_log::Model>, DbErr> {
    request_log::Entity::find()
        .filter(request_log::Column::TokenId.eq(token_id))
        .order_by_desc(request_log::Column::Id)
        .limit(limit)
        .all(db)
        .await
}
