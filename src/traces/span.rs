//! `FinishedSpan`: one span as it is exported — ids, times, name, attributes, events and
//! status — a plain value the call builds when it ends (no live span object, no lock, no
//! shared counter on the way), written to OTLP by `otlp_wire`.

use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry::KeyValue;

/// OTLP's span kinds used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Server = 2,
    Client = 3,
}

#[derive(Debug, Clone)]
pub struct FinishedSpan {
    pub trace_id: u128,
    pub span_id: u64,
    /// The parent span, and whether it is another process's (the client's).
    pub parent: Option<(u64, bool)>,
    /// The W3C trace flags (bit 0: sampled).
    pub flags: u8,
    /// The client's `tracestate`, carried on.
    pub state: Option<Arc<str>>,
    pub kind: Kind,
    pub name: String,
    pub start: SystemTime,
    pub end: SystemTime,
    pub attributes: Vec<KeyValue>,
    /// Named instants (the first token).
    pub events: Vec<(SystemTime, &'static str)>,
    /// `Some(description)`: the span failed.
    pub error: Option<String>,
}
