//! OTLP's protobuf wire format for a batch of finished spans
//! (`ExportTraceServiceRequest`, opentelemetry-proto `trace/v1`), written straight from the
//! spans into one buffer: no message structs in between (opentelemetry-otlp copies every
//! attribute into prost structs first — about a hundred allocations a call, measured, on a
//! thread that shares the cores with the calls). The tests decode it with the official
//! `opentelemetry-proto` package (tests/otlp/receiver.py).

use opentelemetry::{Array, KeyValue, Value};

use super::span::FinishedSpan;

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// The span flags' "whether the parent is remote is known" and "the parent is remote".
const HAS_IS_REMOTE: u32 = 0x100;
const IS_REMOTE: u32 = 0x200;

fn varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn tag(buf: &mut Vec<u8>, field: u32, wire: u8) {
    varint(buf, (u64::from(field) << 3) | u64::from(wire));
}

fn bytes(buf: &mut Vec<u8>, field: u32, b: &[u8]) {
    tag(buf, field, LEN);
    varint(buf, b.len() as u64);
    buf.extend_from_slice(b);
}

fn fixed64(buf: &mut Vec<u8>, field: u32, v: u64) {
    tag(buf, field, FIXED64);
    buf.extend_from_slice(&v.to_le_bytes());
}

/// A nested message in `field`: written in place, then its length put before it (the
/// message's bytes move up by the length's one to ten bytes; nothing is allocated). For
/// the few large messages (spans, events); attributes know their lengths beforehand.
fn nested(buf: &mut Vec<u8>, field: u32, write: impl FnOnce(&mut Vec<u8>)) {
    tag(buf, field, LEN);
    let start = buf.len();
    write(buf);
    let len = buf.len() - start;
    let n = varint_len(len as u64);
    buf.resize(buf.len() + n, 0);
    buf.copy_within(start..start + len, start + n);
    let mut v = len as u64;
    for byte in &mut buf[start..start + n] {
        *byte = (v as u8 & 0x7f) | if v >= 0x80 { 0x80 } else { 0 };
        v >>= 7;
    }
}

/// The length of a field of `len` bytes under a one-byte tag (fields 1..=15).
fn field_len(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

fn len_prefix(buf: &mut Vec<u8>, field: u32, len: usize) {
    tag(buf, field, LEN);
    varint(buf, len as u64);
}

fn unix_nanos(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The length of an `AnyValue` message holding `value`.
fn any_len(value: &Value) -> usize {
    match value {
        Value::String(s) => field_len(s.as_str().len()),
        Value::Bool(_) => 2,
        Value::I64(i) => 1 + varint_len(*i as u64),
        Value::F64(_) => 9,
        Value::Array(array) => field_len(array_len(array)),
        _ => 0,
    }
}

/// The length of an `ArrayValue` (each item an `AnyValue` in field 1).
fn array_len(array: &Array) -> usize {
    match array {
        Array::String(items) => items
            .iter()
            .map(|s| field_len(field_len(s.as_str().len())))
            .sum(),
        Array::Bool(items) => items.len() * field_len(2),
        Array::I64(items) => items
            .iter()
            .map(|i| field_len(1 + varint_len(*i as u64)))
            .sum(),
        Array::F64(items) => items.len() * field_len(9),
        _ => 0,
    }
}

/// `AnyValue` fields: string 1, bool 2, int 3, double 4, array 5 (`ArrayValue.values` 1).
fn any_value(buf: &mut Vec<u8>, value: &Value) {
    match value {
        Value::String(s) => bytes(buf, 1, s.as_str().as_bytes()),
        Value::Bool(b) => {
            tag(buf, 2, VARINT);
            varint(buf, u64::from(*b));
        }
        Value::I64(i) => {
            tag(buf, 3, VARINT);
            varint(buf, *i as u64);
        }
        Value::F64(f) => fixed64(buf, 4, f.to_bits()),
        Value::Array(array) => {
            len_prefix(buf, 5, array_len(array));
            let item = |buf: &mut Vec<u8>, v: Value| {
                len_prefix(buf, 1, any_len(&v));
                any_value(buf, &v);
            };
            match array {
                Array::String(items) => {
                    for s in items {
                        len_prefix(buf, 1, field_len(s.as_str().len()));
                        bytes(buf, 1, s.as_str().as_bytes());
                    }
                }
                Array::Bool(items) => items.iter().for_each(|b| item(buf, Value::Bool(*b))),
                Array::I64(items) => items.iter().for_each(|i| item(buf, Value::I64(*i))),
                Array::F64(items) => items.iter().for_each(|f| item(buf, Value::F64(*f))),
                _ => {}
            }
        }
        _ => {}
    }
}

/// `KeyValue`s in `field`: key 1, value 2 (lengths known beforehand: written once).
fn attributes(buf: &mut Vec<u8>, field: u32, kvs: &[KeyValue]) {
    for kv in kvs {
        let key = kv.key.as_str().as_bytes();
        let value = any_len(&kv.value);
        len_prefix(buf, field, field_len(key.len()) + field_len(value));
        bytes(buf, 1, key);
        len_prefix(buf, 2, value);
        any_value(buf, &kv.value);
    }
}

/// One `Span`: trace_id 1, span_id 2, trace_state 3, parent_span_id 4, name 5, kind 6,
/// start 7, end 8, attributes 9, events 11, status 15, flags 16.
fn span(buf: &mut Vec<u8>, s: &FinishedSpan) {
    bytes(buf, 1, &s.trace_id.to_be_bytes());
    bytes(buf, 2, &s.span_id.to_be_bytes());
    if let Some(state) = &s.state {
        bytes(buf, 3, state.as_bytes());
    }
    if let Some((parent, _)) = s.parent {
        bytes(buf, 4, &parent.to_be_bytes());
    }
    bytes(buf, 5, s.name.as_bytes());
    tag(buf, 6, VARINT);
    varint(buf, s.kind as u64);
    fixed64(buf, 7, unix_nanos(s.start));
    fixed64(buf, 8, unix_nanos(s.end));
    attributes(buf, 9, &s.attributes);
    for (at, name) in &s.events {
        // Event: time 1, name 2.
        nested(buf, 11, |buf| {
            fixed64(buf, 1, unix_nanos(*at));
            bytes(buf, 2, name.as_bytes());
        });
    }
    // Status: message 2, code 3 (2: error; unset otherwise).
    if let Some(description) = &s.error {
        nested(buf, 15, |buf| {
            bytes(buf, 2, description.as_bytes());
            tag(buf, 3, VARINT);
            varint(buf, 2);
        });
    }
    let mut flags = u32::from(s.flags) | HAS_IS_REMOTE;
    if matches!(s.parent, Some((_, true))) {
        flags |= IS_REMOTE;
    }
    tag(buf, 16, FIXED32);
    buf.extend_from_slice(&flags.to_le_bytes());
}

/// The resource and scope every batch names: written once, at start.
pub struct Preamble {
    resource: Vec<u8>,
    scope: Vec<u8>,
}

impl Preamble {
    pub fn new(resource: &[KeyValue], scope_name: &str, scope_version: &str) -> Preamble {
        let mut r = Vec::new();
        attributes(&mut r, 1, resource);
        let mut s = Vec::new();
        bytes(&mut s, 1, scope_name.as_bytes());
        bytes(&mut s, 2, scope_version.as_bytes());
        Preamble {
            resource: r,
            scope: s,
        }
    }
}

/// A call's spans as `ScopeSpans.spans` entries (field 2), appended to `buf`: written on
/// the call's own thread, so what the spans hold is allocated and freed there, and the
/// exporter gets one buffer a call.
pub fn spans(buf: &mut Vec<u8>, spans: &[FinishedSpan]) {
    for s in spans {
        nested(buf, 2, |b| span(b, s));
    }
}

/// `ExportTraceServiceRequest { resource_spans: [{ resource, scope_spans: [{ scope,
/// spans }] }] }` of calls' written `spans`, into `buf` (cleared first).
pub fn request(buf: &mut Vec<u8>, preamble: &Preamble, spans: &[Vec<u8>]) {
    let written: usize = spans.iter().map(Vec::len).sum();
    let scope_spans = field_len(preamble.scope.len()) + written;
    let resource_spans = field_len(preamble.resource.len()) + field_len(scope_spans);
    buf.clear();
    buf.reserve(field_len(resource_spans));
    tag(buf, 1, LEN);
    varint(buf, resource_spans as u64);
    bytes(buf, 1, &preamble.resource);
    tag(buf, 2, LEN);
    varint(buf, scope_spans as u64);
    bytes(buf, 1, &preamble.scope);
    for call in spans {
        buf.extend_from_slice(call);
    }
}

fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_nested_lengths_are_protobufs() {
        let mut b = Vec::new();
        varint(&mut b, 300);
        assert_eq!(b, [0xac, 0x02]);
        b.clear();
        varint(&mut b, -1i64 as u64);
        assert_eq!(b.len(), 10, "a negative int64 is ten bytes");
        assert_eq!(
            (
                varint_len(0),
                varint_len(127),
                varint_len(128),
                varint_len(u64::MAX)
            ),
            (1, 1, 2, 10)
        );
        b.clear();
        // A 200-byte nested message needs a two-byte length.
        nested(&mut b, 1, |b| b.extend_from_slice(&[7u8; 200]));
        assert_eq!(&b[..3], &[0x0a, 0xc8, 0x01]);
        assert_eq!(b.len(), 203);
        b.clear();
        let kv = [KeyValue::new("k", "v"), KeyValue::new("n", 5i64)];
        attributes(&mut b, 9, &kv);
        // field 9 LEN (0x4a), len 8: key "k" (0a 01 6b), value { string "v" } (12 03 0a 01 76)
        assert_eq!(
            &b[..10],
            &[0x4a, 0x08, 0x0a, 0x01, b'k', 0x12, 0x03, 0x0a, 0x01, b'v']
        );
        // then n = 5: 4a 07 0a 01 6e 12 02 18 05
        assert_eq!(
            &b[10..],
            &[0x4a, 0x07, 0x0a, 0x01, b'n', 0x12, 0x02, 0x18, 0x05]
        );
        // Every value's length is what is written for it.
        let values = [
            Value::Bool(true),
            Value::I64(-3),
            Value::F64(0.5),
            Value::from("x".repeat(300)),
            Value::Array(Array::String(vec!["stop".into(), "length".into()])),
            Value::Array(Array::I64(vec![1, -1, 300])),
            Value::Array(Array::Bool(vec![true, false])),
            Value::Array(Array::F64(vec![1.5])),
        ];
        for v in values {
            b.clear();
            any_value(&mut b, &v);
            assert_eq!(b.len(), any_len(&v), "{v:?}");
        }
        // A nested message's length prefix, and its bytes moved up intact.
        b.clear();
        nested(&mut b, 1, |b| b.extend((0..200u8).collect::<Vec<_>>()));
        assert_eq!(&b[..3], &[0x0a, 0xc8, 0x01]);
        assert_eq!(b[3..].to_vec(), (0..200u8).collect::<Vec<_>>());
    }
}
