//! Reading a `ReplyOutline` (response id, model, finish reasons) in an upstream's dialect:
//! from a whole answer as the gateway already reads it (`upstream::answer`), or event by
//! event from a stream. Finish reasons are named as
//! that upstream names them (`stop`, `end_turn`, `max_output_tokens`, ...).

use serde_json::Value;

use crate::core::endpoint::Dialect;
use crate::core::event::Event;
use crate::core::outline::ReplyOutline;
use crate::core::reply::{Reply, StopReason};

/// The outline of a whole answer decoded into the core from `dialect`.
pub fn of_reply(dialect: Dialect, reply: &Reply) -> ReplyOutline {
    let mut outline = ReplyOutline::default();
    outline.start(Some(&reply.id), Some(&reply.model));
    if let Some(stop) = reply.stop {
        outline.finish(stop_name(dialect, stop));
    }
    outline
}

/// The outline of a Responses-API response object: why it is incomplete, else its status.
pub fn of_response(object: &Value) -> ReplyOutline {
    let mut outline = ReplyOutline::default();
    outline.start(object["id"].as_str(), object["model"].as_str());
    let incomplete = object["incomplete_details"]["reason"].as_str();
    if let Some(reason) = incomplete.or(object["status"].as_str()) {
        outline.finish(reason);
    }
    outline
}

/// Takes a stream's event into `outline`, finish reasons named as `dialect` names them.
pub fn observe(outline: &mut ReplyOutline, dialect: Dialect, event: &Event) {
    match event {
        Event::Start { id, model } => outline.start(Some(id), Some(model)),
        Event::Finish(stop) => outline.finish(stop_name(dialect, *stop)),
        _ => {}
    }
}

/// Why generation stopped, as `dialect` says it.
pub fn stop_name(dialect: Dialect, stop: StopReason) -> &'static str {
    match dialect {
        Dialect::Chat => super::chat::finish_reason(stop),
        Dialect::Messages => super::messages::stop_reason_name(stop),
        Dialect::Responses => match stop {
            StopReason::MaxTokens => "max_output_tokens",
            StopReason::Refusal => "content_filter",
            _ => "completed",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(o: &ReplyOutline) -> Vec<&str> {
        o.finish_reasons.iter().map(|r| &**r).collect()
    }

    #[test]
    fn responses_objects_say_why_they_stopped() {
        let incomplete = serde_json::json!({"id": "resp_1", "model": "m", "status": "incomplete",
            "incomplete_details": {"reason": "max_output_tokens"}});
        let o = of_response(&incomplete);
        assert_eq!(o.id.as_deref(), Some("resp_1"));
        assert_eq!(names(&o), ["max_output_tokens"]);
        let done = serde_json::json!({"id": "resp_2", "model": "m", "status": "completed"});
        assert_eq!(names(&of_response(&done)), ["completed"]);
        assert_eq!(
            of_response(&serde_json::json!("nope")),
            ReplyOutline::default()
        );
    }

    #[test]
    fn stream_events_named_by_the_upstream_dialect() {
        let mut o = ReplyOutline::default();
        let start = Event::Start {
            id: "msg_9".into(),
            model: "claude-x".into(),
        };
        observe(&mut o, Dialect::Messages, &start);
        observe(
            &mut o,
            Dialect::Messages,
            &Event::Finish(StopReason::EndTurn),
        );
        assert_eq!(o.id.as_deref(), Some("msg_9"));
        assert_eq!(names(&o), ["end_turn"]);
        let mut c = ReplyOutline::default();
        observe(&mut c, Dialect::Chat, &Event::Finish(StopReason::ToolUse));
        assert_eq!(names(&c), ["tool_calls"]);
    }
}
