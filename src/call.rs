//! `CallRecord`: what is known about one client call as it goes, written once as its log row.

use std::time::Instant;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::logs::LogEntry;
use crate::time::now_ms;
use crate::upstream::{Endpoint, Usage};

pub struct CallRecord {
    pub started: Instant,
    pub entry: LogEntry,
}

impl CallRecord {
    pub fn new(endpoint: Endpoint, request_id: String) -> CallRecord {
        CallRecord {
            started: Instant::now(),
            entry: LogEntry {
                created_at: now_ms(),
                request_id,
                endpoint: endpoint.name(),
                ..Default::default()
            },
        }
    }

    pub fn set_usage(&mut self, usage: Usage, estimated: bool) {
        let e = &mut self.entry;
        e.prompt_tokens = usage.prompt_tokens;
        e.completion_tokens = usage.completion_tokens;
        e.total_tokens = usage.total_tokens;
        e.cached_tokens = usage.cached_tokens;
        e.reasoning_tokens = usage.reasoning_tokens;
        e.usage_estimated = estimated;
    }

    pub fn mark_first_byte(&mut self) {
        if self.entry.first_byte_ms.is_none() {
            self.entry.first_byte_ms = Some(self.started.elapsed().as_millis() as i64);
        }
    }

    /// Writes the row for a call that ended with `status_code`.
    pub fn finish(mut self, state: &AppState, status_code: u16) {
        self.entry.status_code = status_code;
        self.entry.latency_ms = self.started.elapsed().as_millis() as i64;
        state.log(self.entry);
    }

    /// Writes the row for a call that failed with `err`.
    pub fn fail(mut self, state: &AppState, err: &ApiError) {
        use actix_web::ResponseError;
        self.entry.error_type = Some(err.kind().1.to_string());
        self.entry.error_message = Some(truncate(&err.message(), 500));
        self.finish(state, err.status_code().as_u16());
    }
}

pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
