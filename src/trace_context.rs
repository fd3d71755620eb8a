//! W3C Trace Context (`traceparent`, `tracestate`) as a client sends it: parsed strictly,
//! so a call continues the client's trace only when the header is one a tracer wrote, and
//! passed on to the upstream as it came. Anything malformed is dropped (the call is then
//! untraced), never repaired.

use actix_web::http::header::{HeaderMap, HeaderName};

pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
pub const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// The longest `tracestate` passed on (32 list members of up to 256 bytes would be more;
/// the specification lets a vendor cut at 512).
const MAX_STATE: usize = 512;

/// A valid client trace context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lowercase hex digits, not all zero.
    pub trace_id: String,
    /// The client's span: 16 lowercase hex digits, not all zero.
    pub parent_id: String,
    /// The trace flags (bit 0: sampled).
    pub flags: u8,
    /// The vendors' `tracestate`, as sent (only with a valid `traceparent`).
    pub state: Option<String>,
}

fn lower_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Whether `id` is a trace id as the gateway writes them: 32 lowercase hex digits.
pub fn is_trace_id(id: &str) -> bool {
    lower_hex(id, 32)
}

impl TraceContext {
    /// Parses a `traceparent` (version `00`, or a later version read as `00`, as the
    /// specification asks) and its `tracestate`; `None` when the `traceparent` is invalid.
    pub fn parse(traceparent: &str, tracestate: Option<&str>) -> Option<TraceContext> {
        let tp = traceparent.trim();
        let version = tp.get(..2)?;
        if !lower_hex(version, 2) || version == "ff" {
            return None;
        }
        // Version 00 is exactly 55 characters; a later version may carry more fields
        // after a dash.
        if (version == "00" && tp.len() != 55) || tp.len() < 55 {
            return None;
        }
        if tp.len() > 55 && tp.as_bytes()[55] != b'-' {
            return None;
        }
        let fields = tp.get(..55)?;
        let mut parts = fields.split('-');
        let (_, trace_id, parent_id, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if !lower_hex(trace_id, 32) || !lower_hex(parent_id, 16) || !lower_hex(flags, 2) {
            return None;
        }
        if trace_id.bytes().all(|b| b == b'0') || parent_id.bytes().all(|b| b == b'0') {
            return None;
        }
        let state = tracestate
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.len() <= MAX_STATE && s.is_ascii())
            .map(str::to_string);
        Some(TraceContext {
            trace_id: trace_id.to_string(),
            parent_id: parent_id.to_string(),
            flags: u8::from_str_radix(flags, 16).ok()?,
            state,
        })
    }

    /// The client's context in a request's headers, if it sent a valid one.
    pub fn from_headers(headers: &HeaderMap) -> Option<TraceContext> {
        let traceparent = headers.get(&TRACEPARENT)?.to_str().ok()?;
        let tracestate = headers.get(&TRACESTATE).and_then(|v| v.to_str().ok());
        TraceContext::parse(traceparent, tracestate)
    }

    /// The `traceparent` to send on (version 00).
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-{:02x}", self.trace_id, self.parent_id, self.flags)
    }
}

#[cfg(test)]
mod tests {
    use super::TraceContext;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_round_trips_with_its_state() {
        let t =
            TraceContext::parse(VALID, Some(" rojo=00f067aa0ba902b7,congo=t61rcWkgMzE ")).unwrap();
        assert_eq!(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(t.parent_id, "00f067aa0ba902b7");
        assert_eq!(t.flags, 1);
        assert_eq!(
            t.state.as_deref(),
            Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
        );
        assert_eq!(t.traceparent(), VALID);
        // A later version is read as 00, its extra fields dropped.
        let later = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra";
        assert_eq!(TraceContext::parse(later, None).unwrap().flags, 0);
    }

    #[test]
    fn malformed_traceparents_are_dropped() {
        for bad in [
            "",
            "00",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz",
        ] {
            assert_eq!(TraceContext::parse(bad, None), None, "{bad:?}");
        }
        // A state too long, or not ASCII, is dropped; the traceparent still counts.
        let long = "a=".to_string() + &"b".repeat(600);
        assert_eq!(TraceContext::parse(VALID, Some(&long)).unwrap().state, None);
        assert_eq!(TraceContext::parse(VALID, Some("é=1")).unwrap().state, None);
    }
}
