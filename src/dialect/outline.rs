//! Reading a `ReplyOutline` (response id, model, finish reasons) in an upstream's dialect:
//! from a whole answer's body, or event by event from a stream. Finish reasons are named as
//! that upstream names them (`stop`, `end_turn`, `max_output_tokens`, ...).

use std::borrow::Cow;

use serde::Deserialize;

use crate::core::endpoint::Dialect;
use crate::core::event::Event;
use crate::core::outline::ReplyOutline;
use crate::core::reply::StopReason;

/// The outline of a whole answer `body` in `dialect` (empty where it is not one).
pub fn of_whole(dialect: Dialect, body: &[u8]) -> ReplyOutline {
    // Borrowed where the JSON has no escapes: nothing is copied but what the outline keeps.
    #[derive(Deserialize)]
    struct Choice<'a> {
        #[serde(borrow)]
        finish_reason: Option<Cow<'a, str>>,
    }
    #[derive(Deserialize)]
    struct Incomplete<'a> {
        #[serde(borrow)]
        reason: Option<Cow<'a, str>>,
    }
    #[derive(Deserialize)]
    struct Whole<'a> {
        #[serde(borrow)]
        id: Option<Cow<'a, str>>,
        #[serde(borrow)]
        model: Option<Cow<'a, str>>,
        #[serde(default, borrow)]
        choices: Vec<Choice<'a>>,
        #[serde(borrow)]
        stop_reason: Option<Cow<'a, str>>,
        #[serde(borrow)]
        status: Option<Cow<'a, str>>,
        #[serde(borrow)]
        incomplete_details: Option<Incomplete<'a>>,
    }
    let mut outline = ReplyOutline::default();
    let Ok(whole) = serde_json::from_slice::<Whole>(body) else {
        return outline;
    };
    outline.start(whole.id.as_deref(), whole.model.as_deref());
    match dialect {
        Dialect::Chat => {
            for reason in whole
                .choices
                .iter()
                .filter_map(|c| c.finish_reason.as_deref())
            {
                outline.finish(reason);
            }
        }
        Dialect::Messages => {
            if let Some(reason) = &whole.stop_reason {
                outline.finish(reason);
            }
        }
        Dialect::Responses => {
            let incomplete = whole.incomplete_details.and_then(|d| d.reason);
            if let Some(reason) = incomplete.or(whole.status) {
                outline.finish(&reason);
            }
        }
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
    fn whole_answers_in_each_dialect() {
        let chat = br#"{"id":"chatcmpl-\u0041","model":"gpt-4o","choices":[{"finish_reason":"stop"},{"finish_reason":"length"}]}"#;
        let o = of_whole(Dialect::Chat, chat);
        assert_eq!(o.id.as_deref(), Some("chatcmpl-A"));
        assert_eq!(o.model.as_deref(), Some("gpt-4o"));
        assert_eq!(names(&o), ["stop", "length"]);
        let msg = br#"{"id":"msg_1","model":"claude","stop_reason":"tool_use","content":[]}"#;
        assert_eq!(names(&of_whole(Dialect::Messages, msg)), ["tool_use"]);
        let resp = br#"{"id":"resp_1","model":"m","status":"incomplete","incomplete_details":{"reason":"max_output_tokens"}}"#;
        assert_eq!(
            names(&of_whole(Dialect::Responses, resp)),
            ["max_output_tokens"]
        );
        let done = br#"{"id":"resp_2","model":"m","status":"completed"}"#;
        assert_eq!(names(&of_whole(Dialect::Responses, done)), ["completed"]);
        assert_eq!(
            of_whole(Dialect::Chat, b"not json"),
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
