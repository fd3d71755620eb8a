//! `LogEntry`: one finished call as the request log stores it.

use super::log_search::Outcome;
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
    /// The W3C trace the client's call belongs to (32 hex digits), when it sent one.
    pub trace_id: Option<String>,
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

    /// `request_logs.status`, as the log filters name it.
    pub fn status(&self) -> &'static str {
        let outcome = if self.is_success() {
            Outcome::Success
        } else {
            Outcome::Error
        };
        outcome.as_str()
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
