//! `CallTrace`: one sampled call's spans as it goes — the server span, the upstream attempt
//! in flight, and what the answer said of itself — ended with the call's log entry, so a
//! span and its log row always agree.

use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Array, Context, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::Span as SdkSpan;

use super::names as n;
use super::Tracing;
use crate::core::outline::ReplyOutline;
use crate::core::text::truncate;
use crate::routing::keys::PickedKey;
use crate::store::log_entry::LogEntry;
use crate::store::providers::ProviderRecord;
use crate::trace_context::TraceContext;

pub struct CallTrace {
    tracing: Arc<Tracing>,
    /// Holds the server span (its children name it as their parent).
    server: Context,
    operation: &'static str,
    /// Set on the server span when it ends (none is set before: the SDK would grow its
    /// vector once per attribute).
    attributes: Vec<KeyValue>,
    /// The client's `tracestate`, passed on to the upstream.
    state: Option<String>,
    attempt: Option<SdkSpan>,
    first_token: Option<SystemTime>,
    outline: Option<ReplyOutline>,
    output: Option<String>,
    budget: &'static str,
    started: SystemTime,
    /// `gen_ai.provider.name` of the latest attempt's provider.
    provider_name: Option<&'static str>,
    /// A stream that ended before the upstream finished it.
    cut: bool,
}

impl CallTrace {
    pub(super) fn new(
        tracing: Arc<Tracing>,
        server: Context,
        operation: &'static str,
        attributes: Vec<KeyValue>,
        state: Option<String>,
        started: SystemTime,
    ) -> CallTrace {
        CallTrace {
            tracing,
            server,
            operation,
            attributes,
            state,
            attempt: None,
            first_token: None,
            outline: None,
            output: None,
            budget: "not_reached",
            started,
            provider_name: None,
            cut: false,
        }
    }

    /// The trace's id: 32 lowercase hex digits.
    pub fn trace_id(&self) -> String {
        self.server.span().span_context().trace_id().to_string()
    }

    /// What the client asked for: the span is named after the model.
    pub fn request(&mut self, model: &str, max_tokens: Option<i64>, raw: &[u8]) {
        let span = self.server.span();
        span.update_name(n::span_name(self.operation, Some(model)));
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

    /// Starts attempt `number` on `provider` with `key` for `model`; the upstream's
    /// `traceparent` names this attempt's span.
    pub fn start_attempt(
        &mut self,
        number: u32,
        provider: &ProviderRecord,
        model: &str,
        key: &PickedKey,
    ) -> TraceContext {
        self.end_attempt(None);
        let provider_name = n::provider_name(provider.api_type);
        self.provider_name = Some(provider_name);
        let mut attributes = vec![
            KeyValue::new(n::OPERATION_NAME, self.operation),
            KeyValue::new(n::PROVIDER_NAME, provider_name),
            KeyValue::new(n::PROVIDER, provider.name.clone()),
            KeyValue::new(n::REQUEST_MODEL, model.to_string()),
            KeyValue::new(n::ATTEMPT, i64::from(number)),
            KeyValue::new(n::KEY_ID, i64::from(key.id)),
            KeyValue::new(n::KEY_MASKED, crate::secrets::mask_key(&key.secret)),
        ];
        if let Some((host, port)) = n::server_of(&provider.base_url) {
            attributes.push(KeyValue::new(n::SERVER_ADDRESS, host));
            attributes.push(KeyValue::new(n::SERVER_PORT, port));
        }
        let tracer = &self.tracing.tracer;
        let span = tracer
            .span_builder(n::span_name(self.operation, Some(model)))
            .with_kind(SpanKind::Client)
            .with_attributes(attributes)
            .start_with_context(tracer, &self.server);
        let context = span.span_context().clone();
        self.attempt = Some(span);
        TraceContext {
            trace_id: context.trace_id().to_string(),
            parent_id: context.span_id().to_string(),
            flags: context.trace_flags().to_u8(),
            state: self.state.clone(),
        }
    }

    /// The attempt got an answer head with `status` from the upstream.
    pub fn answered(&mut self, status: u16) {
        if let Some(span) = &mut self.attempt {
            span.set_attribute(KeyValue::new(n::HTTP_STATUS, i64::from(status)));
        }
    }

    /// The attempt failed with `error_type` (another may follow).
    pub fn attempt_failed(&mut self, error_type: String) {
        self.end_attempt(Some(error_type));
    }

    fn end_attempt(&mut self, error_type: Option<String>) {
        if let Some(mut span) = self.attempt.take() {
            if let Some(kind) = error_type {
                span.set_status(Status::error(kind.clone()));
                span.set_attribute(KeyValue::new(n::ERROR_TYPE, kind));
            }
            span.end();
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

    /// The whole answer as the client got it, for content capture.
    pub fn output(&mut self, body: &[u8]) {
        if let Some(max) = self.tracing.capture {
            self.output = captured_output(body, max);
        }
    }

    /// Whether content is captured (so the caller need not copy it otherwise).
    pub fn captures(&self) -> bool {
        self.tracing.capture.is_some()
    }

    /// Ends the open attempt and the server span with what the call's log row says.
    pub fn end(mut self, entry: &LogEntry) {
        let mut outcome = Vec::with_capacity(24);
        usage(&mut outcome, entry);
        if let Some(o) = self.outline.take() {
            if let Some(id) = o.id {
                outcome.push(KeyValue::new(n::RESPONSE_ID, id));
            }
            if let Some(model) = o.model {
                outcome.push(KeyValue::new(n::RESPONSE_MODEL, model));
            }
            if !o.finish_reasons.is_empty() {
                let reasons: Vec<StringValue> = o
                    .finish_reasons
                    .into_iter()
                    .map(StringValue::from)
                    .collect();
                outcome.push(KeyValue::new(
                    n::RESPONSE_FINISH_REASONS,
                    Value::Array(Array::String(reasons)),
                ));
            }
        }
        if let Some(output) = self.output.take() {
            outcome.push(KeyValue::new(n::OUTPUT_MESSAGES, output));
        }
        let failed = !entry.is_success();
        if let Some(mut attempt) = self.attempt.take() {
            attempt.set_attributes(outcome.iter().cloned());
            if failed {
                let kind = entry.error_type.clone().unwrap_or_else(|| "error".into());
                attempt.set_attribute(KeyValue::new(n::ERROR_TYPE, kind.clone()));
                attempt.set_status(Status::error(kind));
            }
            attempt.end();
        }
        let a = &mut self.attributes;
        a.append(&mut outcome);
        server_side(a, entry, self.budget);
        if let Some(provider) = &entry.provider {
            a.push(KeyValue::new(n::PROVIDER, provider.clone()));
        }
        if let Some(name) = self.provider_name {
            a.push(KeyValue::new(n::PROVIDER_NAME, name));
        }
        let span = self.server.span();
        if let Some(at) = self.first_token {
            let ms = at
                .duration_since(self.started)
                .unwrap_or_default()
                .as_millis();
            a.push(KeyValue::new(n::TIME_TO_FIRST_TOKEN_MS, ms as i64));
            span.add_event_with_timestamp(n::FIRST_TOKEN_EVENT, at, Vec::new());
        }
        if failed {
            let kind = entry.error_type.clone().unwrap_or_else(|| "error".into());
            if self.cut {
                a.push(KeyValue::new(n::CUT_REASON, kind.clone()));
            }
            a.push(KeyValue::new(n::ERROR_TYPE, kind.clone()));
            if entry.status_code >= 500 || entry.status_code == 499 {
                span.set_status(Status::error(kind));
            }
        }
        span.set_attributes(std::mem::take(a));
        span.end();
    }
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
