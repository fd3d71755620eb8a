//! `LogEntry`: one finished call as the request log stores it.

use sea_orm::Value;

use crate::core::money::Money;
use crate::core::usage::{ServiceTier, Usage};

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
    pub cache_write_tokens: i64,
    pub reasoning_tokens: i64,
    pub cache_write_1h_tokens: i64,
    pub web_search_requests: i64,
    pub service_tier: ServiceTier,
    pub audio_input_tokens: i64,
    pub audio_output_tokens: i64,
    pub amount: Money,
    pub usage_estimated: bool,
    /// The budget lease the call reserved from (cluster); writing this row moves the
    /// call's usage from that lease to the token's spend.
    pub lease_id: Option<i64>,
    /// Who the call was for, as the client named them (bounded, no control characters).
    pub end_user: Option<String>,
    /// The client's session, as it named it (bounded, no control characters).
    pub session_id: Option<String>,
    /// The token's team (its counters are written with the row; not a log column).
    pub team_id: Option<i32>,
    /// The team budget lease the call reserved from (cluster).
    pub team_lease_id: Option<i64>,
    /// Start of the budget period the usage counts in, for the token and its team (Unix
    /// ms; 0 for a lifetime budget), as settlement saw it.
    pub token_period: i64,
    pub team_period: i64,
}

impl LogEntry {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status_code)
    }

    /// The row's values in `COLUMNS` order.
    pub(super) fn values(&self, out: &mut Vec<Value>) {
        let status = if self.is_success() {
            "success"
        } else {
            "error"
        };
        out.extend([
            Value::from(self.created_at),
            Value::from(self.request_id.as_str()),
            Value::from(self.token_id),
            Value::from(self.endpoint),
            Value::from(self.requested_model.clone()),
            Value::from(self.model.clone()),
            Value::from(self.provider.clone()),
            Value::from(self.key_id),
            Value::from(self.stream),
            Value::from(self.status_code as i32),
            Value::from(status),
            Value::from(self.error_type.clone()),
            Value::from(self.error_message.clone()),
            Value::from(self.latency_ms),
            Value::from(self.first_byte_ms),
            Value::from(self.attempts as i32),
            Value::from(self.prompt_tokens),
            Value::from(self.completion_tokens),
            Value::from(self.total_tokens),
            Value::from(self.cached_tokens),
            Value::from(self.cache_write_tokens),
            Value::from(self.reasoning_tokens),
            Value::from(self.amount.nanos()),
            Value::from(self.usage_estimated),
            Value::from(self.cache_write_1h_tokens),
            Value::from(self.web_search_requests),
            Value::from(self.service_tier.name()),
            Value::from(self.audio_input_tokens),
            Value::from(self.audio_output_tokens),
            Value::from(self.end_user.clone()),
            Value::from(self.session_id.clone()),
        ]);
    }

    /// The usage this row records (what it is billed for).
    pub fn usage(&self) -> Usage {
        Usage {
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            total_tokens: self.total_tokens,
            cached_tokens: self.cached_tokens,
            cache_write_tokens: self.cache_write_tokens,
            cache_write_1h_tokens: self.cache_write_1h_tokens,
            reasoning_tokens: self.reasoning_tokens,
            web_search_requests: self.web_search_requests,
            service_tier: self.service_tier,
            audio_input_tokens: self.audio_input_tokens,
            audio_output_tokens: self.audio_output_tokens,
        }
    }
}
