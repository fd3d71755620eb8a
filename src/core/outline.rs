//! `ReplyOutline`: what a trace says of an answer — the upstream's response id, the model
//! that answered and why it stopped. Read only for a traced call, and bounded: a hostile
//! upstream cannot grow a span.

use std::sync::Arc;

/// At most this many finish reasons, each at most `MAX_TEXT` bytes (as are id and model).
const MAX_REASONS: usize = 16;
const MAX_TEXT: usize = 256;

/// Shared strings: the trace puts each on two spans without copying it again.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ReplyOutline {
    pub id: Option<Arc<str>>,
    pub model: Option<Arc<str>>,
    pub finish_reasons: Vec<Arc<str>>,
}

impl ReplyOutline {
    /// The answer's id and model, as first named (a stream repeats them in every chunk).
    pub fn start(&mut self, id: Option<&str>, model: Option<&str>) {
        if self.id.is_none() {
            self.id = id.filter(|s| !s.is_empty()).map(bounded);
        }
        if self.model.is_none() {
            self.model = model.filter(|s| !s.is_empty()).map(bounded);
        }
    }

    pub fn finish(&mut self, reason: &str) {
        if self.finish_reasons.len() < MAX_REASONS && !reason.is_empty() {
            self.finish_reasons.push(bounded(reason));
        }
    }
}

fn bounded(s: &str) -> Arc<str> {
    if s.len() <= MAX_TEXT {
        Arc::from(s)
    } else {
        Arc::from(crate::core::text::truncate(s, MAX_TEXT))
    }
}

#[cfg(test)]
mod tests {
    use super::ReplyOutline;

    #[test]
    fn keeps_the_first_id_and_model_and_bounds_everything() {
        let mut o = ReplyOutline::default();
        o.start(Some(""), None);
        o.start(Some("chatcmpl-1"), Some("gpt-4o"));
        o.start(Some("chatcmpl-2"), Some("other"));
        let long = "x".repeat(10_000);
        for _ in 0..100 {
            o.finish(&long);
        }
        assert_eq!(o.id.as_deref(), Some("chatcmpl-1"));
        assert_eq!(o.model.as_deref(), Some("gpt-4o"));
        assert_eq!(o.finish_reasons.len(), 16);
        assert!(o.finish_reasons[0].len() <= 256 + 4);
    }
}
