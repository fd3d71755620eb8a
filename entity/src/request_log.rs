use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "request_logs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub created_at: i64,
    pub request_id: String,
    pub token_id: Option<i32>,
    /// `chat.completions`, `embeddings`, `messages`, ...
    pub endpoint: String,
    /// The model name as the client sent it.
    pub requested_model: Option<String>,
    /// The model after redirects, as sent upstream.
    pub model: Option<String>,
    pub provider: Option<String>,
    pub key_id: Option<i32>,
    pub stream: bool,
    pub status_code: i32,
    /// `success` or `error`.
    pub status: String,
    pub error_type: Option<String>,
    pub error_message: Option<String>,
    pub latency_ms: i64,
    pub first_byte_ms: Option<i64>,
    pub attempts: i32,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub cached_tokens: i64,
    /// Prompt tokens written to the upstream's cache.
    pub cache_write_tokens: i64,
    pub reasoning_tokens: i64,
    /// Of the cache writes, those written for an hour.
    pub cache_write_1h_tokens: i64,
    /// Web searches the provider ran.
    pub web_search_requests: i64,
    /// `flex` or `priority` when the answer named one.
    pub service_tier: Option<String>,
    /// Audio tokens inside the prompt and the completion.
    pub audio_input_tokens: i64,
    pub audio_output_tokens: i64,
    pub amount_nano: i64,
    pub usage_estimated: bool,
    /// Who the client says the call was for (`user`, `safety_identifier`,
    /// `metadata.user_id`, or the `x-gateway-end-user` header).
    pub end_user: Option<String>,
    /// The client's session (`x-claude-code-session-id`, else `x-session-id`).
    pub session_id: Option<String>,
    /// The W3C trace the call belongs to, when the client sent a `traceparent`.
    pub trace_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
