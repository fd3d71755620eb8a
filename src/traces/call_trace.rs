//! `CallTrace`: one sampled call's spans as it goes — the server span's attributes, the
//! upstream attempt in flight, and what the answer said of itself — ended with the call's
//! log entry, so a span and its log row always agree. Spans are plain values until then:
//! the call's thread takes no lock and touches no shared counter until it queues them.

use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry::{Array, KeyValue, StringValue, Value};
use rand::Rng;

use super::names as n;
use super::span::{FinishedSpan, Kind};
use super::Tracing;
use crate::accounting::token::TokenInfo;
use crate::core::endpoint::Endpoint;
use crate::core::outline::ReplyOutline;
use crate::core::text::truncate;
use crate::routing::keys::PickedKey;
use crate::store::log_entry::LogEntry;
use crate::store::providers::ProviderRecord;

/// A call's place in its trace.
pub struct Ids {
    pub trace_id: u128,
    /// The call's own (server) span.
    pub server: u64,
    /// The client's span, when it sent one.
    pub parent: Option<u64>,
    /// The client's `tracestate`.
    pub state: Option<Arc<str>>,
}

/// The upstream attempt in flight.
struct Attempt {
    id: u64,
    start: SystemTime,
    name: String,
    attributes: Vec<KeyValue>,
}

pub struct CallTrace {
    tracing: Arc<Tracing>,
    ids: Ids,
    operation: &'static str,
    name: String,
    start: SystemTime,
    /// The server span's attributes so far (the rest come from the log entry at the end).
    attributes: Vec<KeyValue>,
    attempt: Option<Attempt>,
    /// Attempts that failed before the one in flight.
    failed: Vec<FinishedSpan>,
    first_token: Option<SystemTime>,
    outline: Option<ReplyOutline>,
    output: Option<String>,
    budget: &'static str,
    /// `gen_ai.provider.name` of the latest attempt's provider.
    provider_name: Option<&'static str>,
    /// A stream that ended before the upstream finished it.
    cut: bool,
}

thread_local! {
    /// Where a call's spans are written before they are queued (its capacity reused).
    static WRITING: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The server span's attributes, at most (no growth on the way).
const SERVER_ATTRIBUTES: usize = 40;
const ATTEMPT_ATTRIBUTES: usize = 24;

impl CallTrace {
    pub(super) fn new(
        tracing: Arc<Tracing>,
        ids: Ids,
        endpoint: Endpoint,
        start: SystemTime,
        token: &TokenInfo,
    ) -> CallTrace {
        let operation = n::operation(endpoint);
        let mut attributes = Vec::with_capacity(SERVER_ATTRIBUTES);
        attributes.extend([
            KeyValue::new(n::OPERATION_NAME, operation),
            KeyValue::new(n::ENDPOINT, endpoint.name()),
            KeyValue::new(n::TOKEN_ID, i64::from(token.id)),
            KeyValue::new(n::TOKEN_NAME, token.name.clone()),
        ]);
        if let Some(team) = token.team_id {
            attributes.push(KeyValue::new(n::TEAM_ID, i64::from(team)));
        }
        CallTrace {
            tracing,
            ids,
            operation,
            name: operation.to_string(),
            start,
            attributes,
            attempt: None,
            failed: Vec::new(),
            first_token: None,
            outline: None,
            output: None,
            budget: "not_reached",
            provider_name: None,
            cut: false,
        }
    }

    /// The trace's id: 32 lowercase hex digits.
    pub fn trace_id(&self) -> String {
        format!("{:032x}", self.ids.trace_id)
    }

    /// What the client asked for: the span is named after the model.
    pub fn request(&mut self, model: &str, max_tokens: Option<i64>, raw: &[u8]) {
        self.name = n::span_name(self.operation, model);
        self.attributes
            .push(KeyValue::new(n::REQUEST_MODEL, truncate(model, 256)));
        if let Some(max) = max_tokens {
            self.attributes
                .push(KeyValue::new(n::REQUEST_MAX_TOKENS, max));
        }
        if let Some(max) = self.tracing.capture {
            if let Some(input) = captured_input(raw, max) {
                self.attributes
                    .push(KeyValue::new(n::INPUT_MESSAGES, input));
            }
        }
    }

    /// Admission's word: `admitted` or `refused` (a call that failed before it keeps
    /// `not_reached`).
    pub fn budget(&mut self, outcome: &'static str) {
        self.budget = outcome;
    }

    /// Starts attempt `number` on `provider` with `key` for `model`; answers the
    /// `traceparent` the upstream gets (naming this attempt's span) and the `tracestate`.
    pub fn start_attempt(
        &mut self,
        number: u32,
        provider: &ProviderRecord,
        model: &str,
        key: &PickedKey,
    ) -> (String, Option<&str>) {
        self.end_attempt(None);
        let provider_name = n::provider_name(provider.api_type);
        self.provider_name = Some(provider_name);
        let mut attributes = Vec::with_capacity(ATTEMPT_ATTRIBUTES);
        attributes.extend([
            KeyValue::new(n::OPERATION_NAME, self.operation),
            KeyValue::new(n::PROVIDER_NAME, provider_name),
            KeyValue::new(n::PROVIDER, provider.name.clone()),
            KeyValue::new(n::REQUEST_MODEL, truncate(model, 256)),
            KeyValue::new(n::ATTEMPT, i64::from(number)),
            KeyValue::new(n::KEY_ID, i64::from(key.id)),
            KeyValue::new(n::KEY_MASKED, crate::secrets::mask_key(&key.secret)),
        ]);
        if let Some((host, port)) = n::server_of(&provider.base_url) {
            attributes.push(KeyValue::new(n::SERVER_ADDRESS, host));
            attributes.push(KeyValue::new(n::SERVER_PORT, port));
        }
        let id = rand::thread_rng().gen::<u64>().max(1);
        self.attempt = Some(Attempt {
            id,
            start: SystemTime::now(),
            name: n::span_name(self.operation, model),
            attributes,
        });
        let traceparent = format!("00-{:032x}-{id:016x}-01", self.ids.trace_id);
        (traceparent, self.ids.state.as_deref())
    }

    /// The attempt got an answer head with `status` from the upstream.
    pub fn answered(&mut self, status: u16) {
        if let Some(attempt) = &mut self.attempt {
            attempt
                .attributes
                .push(KeyValue::new(n::HTTP_STATUS, i64::from(status)));
        }
    }

    /// The attempt failed with `error_type` (another may follow).
    pub fn attempt_failed(&mut self, error_type: String) {
        self.end_attempt(Some(error_type));
    }

    fn end_attempt(&mut self, error_type: Option<String>) {
        if let Some(mut attempt) = self.attempt.take() {
            if let Some(kind) = &error_type {
                attempt
                    .attributes
                    .push(KeyValue::new(n::ERROR_TYPE, kind.clone()));
            }
            let span = self.attempt_span(attempt, SystemTime::now(), error_type);
            self.failed.push(span);
        }
    }

    fn attempt_span(
        &self,
        attempt: Attempt,
        end: SystemTime,
        error: Option<String>,
    ) -> FinishedSpan {
        FinishedSpan {
            trace_id: self.ids.trace_id,
            span_id: attempt.id,
            parent: Some((self.ids.server, false)),
            flags: 1,
            state: self.ids.state.clone(),
            kind: Kind::Client,
            name: attempt.name,
            start: attempt.start,
            end,
            attributes: attempt.attributes,
            events: Vec::new(),
            error,
        }
    }

    /// The first streamed chunk reached the client (kept once).
    pub fn first_token(&mut self) {
        self.first_token.get_or_insert_with(SystemTime::now);
    }

    /// The relayed stream ended before the upstream finished it (the log row's error type
    /// says why: the client left, the upstream broke or timed out).
    pub fn cut(&mut self) {
        self.cut = true;
    }

    /// What the answer said of itself (id, model, finish reasons).
    pub fn outline(&mut self, outline: ReplyOutline) {
        self.outline = Some(outline);
    }

    /// The whole answer as the client got it, for content capture (kept only when content
    /// is captured).
    pub fn output(&mut self, body: &[u8]) {
        if let Some(max) = self.tracing.capture {
            self.output = captured_output(body, max);
        }
    }

    /// Ends the open attempt and the server span with what the call's log row says, and
    /// queues the call's spans.
    pub fn end(mut self, entry: &LogEntry) {
        let end = SystemTime::now();
        let failed = !entry.is_success();
        let error = failed.then(|| entry.error_type.clone().unwrap_or_else(|| "error".into()));
        // What the answer says goes on the attempt that got it and on the call.
        let mut answer = Vec::with_capacity(10);
        usage(&mut answer, entry);
        if let Some(o) = self.outline.take() {
            if let Some(id) = o.id {
                answer.push(KeyValue::new(n::RESPONSE_ID, StringValue::from(id)));
            }
            if let Some(model) = o.model {
                answer.push(KeyValue::new(n::RESPONSE_MODEL, StringValue::from(model)));
            }
            if !o.finish_reasons.is_empty() {
                let reasons: Vec<StringValue> = o
                    .finish_reasons
                    .into_iter()
                    .map(StringValue::from)
                    .collect();
                answer.push(KeyValue::new(
                    n::RESPONSE_FINISH_REASONS,
                    Value::Array(Array::String(reasons)),
                ));
            }
        }
        let mut spans = std::mem::take(&mut self.failed);
        if let Some(mut attempt) = self.attempt.take() {
            attempt.attributes.extend(answer.iter().cloned());
            if let Some(kind) = &error {
                attempt
                    .attributes
                    .push(KeyValue::new(n::ERROR_TYPE, kind.clone()));
            }
            let attempt_error = error.clone().filter(|_| fails_span(entry.status_code));
            spans.push(self.attempt_span(attempt, end, attempt_error));
        }
        let mut a = std::mem::take(&mut self.attributes);
        a.append(&mut answer);
        if let Some(output) = self.output.take() {
            a.push(KeyValue::new(n::OUTPUT_MESSAGES, output));
        }
        server_side(&mut a, entry, self.budget);
        if let Some(provider) = &entry.provider {
            a.push(KeyValue::new(n::PROVIDER, provider.clone()));
        }
        if let Some(name) = self.provider_name {
            a.push(KeyValue::new(n::PROVIDER_NAME, name));
        }
        let mut events = Vec::new();
        if let Some(at) = self.first_token {
            let ms = at
                .duration_since(self.start)
                .unwrap_or_default()
                .as_millis();
            a.push(KeyValue::new(n::TIME_TO_FIRST_TOKEN_MS, ms as i64));
            events.push((at, n::FIRST_TOKEN_EVENT));
        }
        if let Some(kind) = &error {
            if self.cut {
                a.push(KeyValue::new(n::CUT_REASON, kind.clone()));
            }
            a.push(KeyValue::new(n::ERROR_TYPE, kind.clone()));
        }
        let server_error = error.filter(|_| fails_span(entry.status_code));
        spans.push(FinishedSpan {
            trace_id: self.ids.trace_id,
            span_id: self.ids.server,
            parent: self.ids.parent.map(|p| (p, true)),
            flags: 1,
            state: self.ids.state.clone(),
            kind: Kind::Server,
            name: std::mem::take(&mut self.name),
            start: self.start,
            end,
            attributes: a,
            events,
            error: server_error,
        });
        // Written here, on the call's thread: what the spans hold is freed where it was
        // made, and the queue takes one buffer.
        WRITING.with(|buf| {
            let mut buf = buf.borrow_mut();
            buf.clear();
            super::otlp_wire::spans(&mut buf, &spans);
            self.tracing
                .queue
                .push(buf.as_slice().to_vec(), spans.len() as u32);
        });
    }
}

/// Whether a call answered `status` marks its spans failed: the gateway's or the upstream's
/// fault (5xx) or a cut stream (499); a 4xx is the client's and leaves the status unset.
fn fails_span(status: u16) -> bool {
    status >= 500 || status == 499
}

/// The usage the call was billed for, as the conventions name it.
fn usage(a: &mut Vec<KeyValue>, e: &LogEntry) {
    a.push(KeyValue::new(n::USAGE_INPUT_TOKENS, e.prompt_tokens));
    a.push(KeyValue::new(n::USAGE_OUTPUT_TOKENS, e.completion_tokens));
    if e.cached_tokens > 0 {
        a.push(KeyValue::new(n::USAGE_CACHE_READ, e.cached_tokens));
    }
    if e.cache_write_tokens > 0 {
        a.push(KeyValue::new(n::USAGE_CACHE_CREATION, e.cache_write_tokens));
    }
    if e.reasoning_tokens > 0 {
        a.push(KeyValue::new(n::USAGE_REASONING, e.reasoning_tokens));
    }
}

/// What only the gateway knows: who, what it cost, how it went.
fn server_side(a: &mut Vec<KeyValue>, e: &LogEntry, budget: &'static str) {
    a.push(KeyValue::new(n::REQUEST_ID, e.request_id.clone()));
    a.push(KeyValue::new(n::HTTP_STATUS, i64::from(e.status_code)));
    a.push(KeyValue::new(n::COST_USD, e.amount.usd()));
    a.push(KeyValue::new(n::USAGE_ESTIMATED, e.usage_estimated));
    a.push(KeyValue::new(n::CACHE_HIT, e.cached_tokens > 0));
    a.push(KeyValue::new(n::BUDGET_OUTCOME, budget));
    a.push(KeyValue::new(n::ATTEMPTS, i64::from(e.attempts)));
    a.push(KeyValue::new(n::STREAM, e.stream));
    if let Some(user) = &e.end_user {
        a.push(KeyValue::new(n::END_USER, user.clone()));
    }
    if let Some(session) = &e.session_id {
        a.push(KeyValue::new(n::SESSION_ID, session.clone()));
        a.push(KeyValue::new(n::CONVERSATION_ID, session.clone()));
    }
}

/// The prompt's messages (`messages`, or the Responses API's `input`, with `system` or
/// `instructions`) as JSON, cut to `max` bytes.
fn captured_input(raw: &[u8], max: usize) -> Option<String> {
    let body: serde_json::Value = serde_json::from_slice(raw).ok()?;
    let mut picked = serde_json::Map::new();
    for key in ["system", "instructions", "messages", "input"] {
        if let Some(v) = body.get(key) {
            picked.insert(key.into(), v.clone());
        }
    }
    (!picked.is_empty()).then(|| truncate(&serde_json::Value::Object(picked).to_string(), max))
}

/// The answer's generated part (`choices`, `content` or `output`) as JSON, cut to `max`.
fn captured_output(body: &[u8], max: usize) -> Option<String> {
    let body: serde_json::Value = serde_json::from_slice(body).ok()?;
    ["choices", "content", "output"]
        .iter()
        .find_map(|key| body.get(key))
        .map(|v| truncate(&v.to_string(), max))
}

#[cfg(test)]
mod tests {
    use super::{captured_input, captured_output};

    #[test]
    fn captured_content_is_the_messages_and_bounded() {
        let raw =
            br#"{"model":"m","messages":[{"role":"user","content":"hello there"}],"max_tokens":5}"#;
        let got = captured_input(raw, 4096).unwrap();
        assert_eq!(
            got,
            r#"{"messages":[{"content":"hello there","role":"user"}]}"#
        );
        let cut = captured_input(raw, 64).unwrap();
        assert!(cut.len() <= 64 + 3, "{cut}");
        let answer = br#"{"id":"x","choices":[{"message":{"content":"hi"}}],"usage":{}}"#;
        assert_eq!(
            captured_output(answer, 4096).unwrap(),
            r#"[{"message":{"content":"hi"}}]"#
        );
        assert_eq!(captured_input(b"nope", 100), None);
    }
}
