//! `CallRecord`: what is known about one client call as it goes. It ends exactly once —
//! finished, failed or dropped — by settling its admission's `Hold` (the usage priced and
//! put in place of the reservation) and handing the log row to the `LogSink`.

use std::sync::Arc;
use std::time::Instant;

use actix_web::ResponseError;

use crate::accounting::ledger::LedgerState;
use crate::actors::log_sink::LogQueue;
use crate::admission::Hold;
use crate::core::endpoint::Endpoint;
use crate::core::text::truncate;
use crate::core::usage::Usage;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::log_entry::LogEntry;
use crate::time::now_ms;
use crate::traces::CallTrace;

pub struct CallRecord {
    pub started: Instant,
    /// When the first upstream request left (for the gateway-added latency metric).
    pub first_attempt: Option<Instant>,
    /// The model the call went to is one an admin named (see `Candidate::listed`).
    pub model_listed: bool,
    /// Web searches the call runs whatever its usage says (billed at least these).
    pub searches_at_least: i64,
    pub entry: LogEntry,
    /// What admission holds of the token's limits for this call.
    pub hold: Option<Hold>,
    /// The call's spans, when tracing is on and the call is sampled.
    pub trace: Option<Box<CallTrace>>,
    ledger: Arc<LedgerState>,
    queue: Arc<LogQueue>,
    settled: bool,
}

impl CallRecord {
    pub fn new(endpoint: Endpoint, request_id: String, state: &AppState) -> CallRecord {
        CallRecord {
            started: Instant::now(),
            first_attempt: None,
            model_listed: false,
            searches_at_least: 0,
            entry: LogEntry {
                created_at: now_ms(),
                request_id,
                endpoint: endpoint.name(),
                ..Default::default()
            },
            hold: None,
            trace: None,
            ledger: state.accounts.clone(),
            queue: state.log_queue.clone(),
            settled: false,
        }
    }

    /// Records the upstream's usage or, when it never reported any, the estimates of the
    /// prompt and of the text relayed (marked as estimated in the log).
    pub fn set_usage_or_estimate(&mut self, reported: Option<Usage>, prompt: i64, completion: i64) {
        match reported {
            Some(u) => self.set_usage(u, false),
            None => {
                let usage = Usage {
                    prompt_tokens: prompt,
                    completion_tokens: completion,
                    total_tokens: prompt.saturating_add(completion),
                    ..Usage::default()
                };
                self.set_usage(usage, true);
            }
        }
    }

    /// A cut stream: usage reported so far (an early `message_start`, say) counts, but
    /// never less than the estimate of the text relayed.
    pub fn set_usage_at_least(&mut self, reported: Option<Usage>, prompt: i64, relayed: i64) {
        match reported {
            Some(mut u) if u.completion_tokens < relayed => {
                u.completion_tokens = relayed;
                u.total_tokens = u.total_tokens.max(u.prompt_tokens.saturating_add(relayed));
                self.set_usage(u, true);
            }
            other => self.set_usage_or_estimate(other, prompt, relayed),
        }
    }

    fn set_usage(&mut self, usage: Usage, estimated: bool) {
        let e = &mut self.entry;
        e.prompt_tokens = usage.prompt_tokens;
        e.completion_tokens = usage.completion_tokens;
        e.total_tokens = usage.total_tokens;
        e.cached_tokens = usage.cached_tokens;
        e.cache_write_tokens = usage.cache_write_tokens;
        e.cache_write_1h_tokens = usage.cache_write_1h_tokens;
        e.web_search_requests = usage.web_search_requests.max(self.searches_at_least);
        e.service_tier = usage.service_tier;
        e.audio_input_tokens = usage.audio_input_tokens;
        e.audio_output_tokens = usage.audio_output_tokens;
        e.reasoning_tokens = usage.reasoning_tokens;
        e.usage_estimated = estimated;
    }

    pub fn mark_first_byte(&mut self) {
        self.mark_first_byte_at(Instant::now());
    }

    /// The first byte of the answer arrived at `at` (kept if one was marked before).
    pub fn mark_first_byte_at(&mut self, at: Instant) {
        if self.entry.first_byte_ms.is_none() {
            let ms = at.saturating_duration_since(self.started).as_millis() as i64;
            self.entry.first_byte_ms = Some(ms);
        }
    }

    fn settle(&mut self, status_code: u16) {
        if std::mem::replace(&mut self.settled, true) {
            return;
        }
        let mut entry = std::mem::take(&mut self.entry);
        entry.status_code = status_code;
        entry.latency_ms = self.started.elapsed().as_millis() as i64;
        match self.hold.take() {
            Some(hold) => hold.settle(&mut entry),
            // Never admitted: priced all the same (the log shows what it would cost).
            None => self.ledger.settle(&[], &mut entry),
        }
        let to_first_attempt = self.first_attempt.map(|t| t.duration_since(self.started));
        let model_known = self.model_listed
            || matches!((&entry.provider, &entry.model),
                (Some(p), Some(m)) if self.ledger.is_priced(p, m));
        crate::telemetry::record_call(&entry, to_first_attempt, model_known);
        if let Some(trace) = self.trace.take() {
            trace.end(&entry);
        }
        self.queue.push(entry);
    }

    /// Ends a call that got an answer with `status_code`.
    pub fn finish(mut self, status_code: u16) {
        self.settle(status_code);
    }

    /// Drops a call refused before it had a token (so before admission: it holds no
    /// reservation), without a log row.
    pub fn discard(mut self) {
        debug_assert!(self.hold.is_none());
        self.settled = true;
    }

    /// Ends a call that failed with `err`.
    pub fn fail(mut self, err: &ApiError) {
        self.entry.error_type = Some(err.kind().1.to_string());
        self.entry.error_message = Some(truncate(&err.message(), 500));
        self.settle(err.status_code().as_u16());
    }
}

impl Drop for CallRecord {
    /// A record dropped without an ending still settles, so no reservation leaks.
    fn drop(&mut self) {
        if !self.settled {
            self.entry.error_type = Some("internal_error".into());
            self.settle(500);
        }
    }
}
