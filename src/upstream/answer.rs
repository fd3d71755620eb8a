//! A whole answer, as the client gets it: on a pass-through leg the upstream's bytes (read
//! for usage), on a translated one the upstream's reply decoded into the core and written
//! in the client's dialect. For a traced call the same read also takes the answer's
//! outline (id, model, finish reasons): no second pass over the body.

use std::borrow::Cow;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;

use super::leg::Leg;
use super::ClientRequest;
use crate::core::endpoint::{Dialect, Endpoint};
use crate::core::outline::ReplyOutline;
use crate::core::reply::Reply;
use crate::core::usage::{OpenAiUsage, TextEstimate, Usage};
use crate::dialect::chat::ChunkIn;
use crate::dialect::outline;
use crate::dialect::responses::upstream::{generated_of, usage_of};
use crate::dialect::ClientSide;

/// A successful non-streaming answer, as the client gets it.
pub struct Answer {
    pub body: Bytes,
    /// Usage the upstream reported.
    pub usage: Option<Usage>,
    /// Estimated completion tokens of the answer (used when `usage` is missing).
    pub generated: i64,
    /// The answer as a Responses-API response object, where the client's dialect keeps
    /// one (for storing without parsing the body again).
    pub response_object: Option<Value>,
    /// What the upstream's answer said of itself, when asked for (a traced call).
    pub outline: Option<ReplyOutline>,
}

impl Answer {
    /// An answer passed on as the upstream sent it.
    pub fn relayed(body: Bytes, usage: Option<Usage>, generated: i64) -> Answer {
        Answer {
            body,
            usage,
            generated,
            response_object: None,
            outline: None,
        }
    }

    /// A decoded upstream answer written in the client's dialect.
    pub fn translated(endpoint: Endpoint, req: &ClientRequest, reply: &Reply) -> Answer {
        let created = crate::time::now_ms() / 1000;
        let (body, response_object) = match req.client_side(endpoint) {
            ClientSide::Responses(ctx) => {
                let object = crate::dialect::responses::output::reply_object(reply, ctx);
                (Bytes::from(object.to_string()), Some(object))
            }
            client => (crate::dialect::encode_reply(client, reply, created), None),
        };
        Answer {
            body,
            usage: reply.usage,
            generated: reply.generated(),
            response_object,
            outline: None,
        }
    }
}

/// Reads the upstream's whole answer `body` to a call on `leg`; with `outline`, its outline
/// too (in the same pass).
pub fn read(
    leg: Leg,
    endpoint: Endpoint,
    req: &ClientRequest,
    body: Bytes,
    outline: bool,
) -> Answer {
    let of_reply = |reply: &Reply| outline.then(|| outline::of_reply(leg.upstream, reply));
    if !leg.passes_through() {
        return match crate::dialect::decode_reply(leg.upstream, &body) {
            Ok(reply) => Answer {
                outline: of_reply(&reply),
                ..Answer::translated(endpoint, req, &reply)
            },
            Err(e) => {
                log::warn!("{e}");
                Answer::relayed(body, None, 0)
            }
        };
    }
    match (leg.upstream, endpoint) {
        // Counting generates nothing and costs nothing.
        (_, Endpoint::CountTokens) => Answer::relayed(body, Some(Usage::default()), 0),
        (Dialect::Chat, _) => chat_answer(endpoint, body, outline),
        (Dialect::Messages, _) => {
            let (usage, generated, outline) =
                match crate::dialect::decode_reply(Dialect::Messages, &body) {
                    Ok(reply) => (reply.usage, reply.generated(), of_reply(&reply)),
                    Err(_) => (None, 0, None),
                };
            Answer {
                outline,
                ..Answer::relayed(body, usage, generated)
            }
        }
        (Dialect::Responses, _) => {
            let mut answer =
                responses_answer(&body, req).unwrap_or_else(|| Answer::relayed(body, None, 0));
            if outline {
                answer.outline = answer.response_object.as_ref().map(outline::of_response);
            }
            answer
        }
    }
}

/// A Chat Completions (or embeddings) answer: its usage with the service tier it was
/// served at, or an estimate of the text it holds.
fn chat_answer(endpoint: Endpoint, body: Bytes, outline: bool) -> Answer {
    #[derive(Deserialize)]
    struct WithUsage {
        usage: Option<OpenAiUsage>,
        #[serde(default)]
        service_tier: Option<String>,
    }
    /// The same, and the outline, for a traced call (borrowed where the JSON has no
    /// escapes: nothing is copied but what the outline keeps).
    #[derive(Deserialize)]
    struct Outlined<'a> {
        usage: Option<OpenAiUsage>,
        #[serde(default)]
        service_tier: Option<String>,
        #[serde(borrow)]
        id: Option<Cow<'a, str>>,
        #[serde(borrow)]
        model: Option<Cow<'a, str>>,
        #[serde(default, borrow)]
        choices: Vec<Finished<'a>>,
    }
    #[derive(Deserialize)]
    struct Finished<'a> {
        #[serde(borrow)]
        finish_reason: Option<Cow<'a, str>>,
    }
    let (usage, outline) = if outline {
        match serde_json::from_slice::<Outlined>(&body) {
            Ok(b) => {
                let mut o = ReplyOutline::default();
                o.start(b.id.as_deref(), b.model.as_deref());
                for reason in b.choices.iter().filter_map(|c| c.finish_reason.as_deref()) {
                    o.finish(reason);
                }
                let usage = b.usage.map(|u| u.billed(b.service_tier.as_deref()));
                (usage, Some(o))
            }
            Err(_) => (None, Some(ReplyOutline::default())),
        }
    } else {
        let usage = serde_json::from_slice::<WithUsage>(&body)
            .ok()
            .and_then(|b| b.usage.map(|u| u.billed(b.service_tier.as_deref())));
        (usage, None)
    };
    let mut generated = TextEstimate::default();
    if usage.is_none() && endpoint == Endpoint::ChatCompletions {
        if let Ok(answer) = serde_json::from_slice::<ChunkIn>(&body) {
            for message in answer
                .choices
                .iter()
                .flatten()
                .filter_map(|c| c.message.as_ref())
            {
                message.estimate(&mut generated);
            }
        }
    }
    Answer {
        outline,
        ..Answer::relayed(body, usage, generated.tokens())
    }
}

/// A native response object, passed on as it is — but for the `previous_response_id` the
/// gateway resolved into items before sending, which it names again; its usage read
/// (`None`: not a response object).
fn responses_answer(body: &Bytes, req: &ClientRequest) -> Option<Answer> {
    let mut object: Value = serde_json::from_slice(body).ok()?;
    // A native compaction (`response.compaction`) reports usage as a response does.
    if object["object"] != "response" && object["object"] != "response.compaction" {
        return None;
    }
    let previous = req
        .responses
        .as_ref()
        .and_then(|ctx| ctx.previous_response_id.clone());
    let body = match previous {
        Some(id) => {
            object["previous_response_id"] = Value::String(id);
            Bytes::from(object.to_string())
        }
        None => body.clone(),
    };
    Some(Answer {
        usage: usage_of(&object),
        generated: generated_of(&object),
        body,
        response_object: Some(object),
        outline: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_without_usage_are_estimated() {
        let body = Bytes::from_static(
            br#"{"choices":[{"message":{"content":"abcdefgh","tool_calls":[{"function":{"name":"f","arguments":"{\"a\":1}"}}]}}]}"#,
        );
        let leg = Leg::of(Endpoint::ChatCompletions, &[Dialect::Chat]);
        let answer = read(
            leg,
            Endpoint::ChatCompletions,
            &ClientRequest::default(),
            body,
            false,
        );
        assert!(answer.usage.is_none());
        assert!(answer.outline.is_none(), "read only when asked for");
        assert_eq!(answer.generated, 4, "16 ASCII characters");
    }

    #[test]
    fn the_outline_comes_from_the_same_read_on_every_leg() {
        let req = ClientRequest::default();
        let names = |a: &Answer| {
            let o = a.outline.clone().expect("an outline");
            let reasons: Vec<String> = o.finish_reasons.iter().map(|r| r.to_string()).collect();
            (
                o.id.map(|s| s.to_string()),
                o.model.map(|s| s.to_string()),
                reasons,
            )
        };
        // Chat passed through: id escaped, two choices.
        let chat = Bytes::from_static(
            br#"{"id":"chatcmpl-\u0041","model":"gpt-4o","choices":[{"finish_reason":"stop"},{"finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#,
        );
        let leg = Leg::of(Endpoint::ChatCompletions, &[Dialect::Chat]);
        let a = read(leg, Endpoint::ChatCompletions, &req, chat.clone(), true);
        assert_eq!(a.usage.unwrap().total_tokens, 5);
        assert_eq!(
            names(&a),
            (
                Some("chatcmpl-A".into()),
                Some("gpt-4o".into()),
                vec!["stop".into(), "length".into()]
            )
        );
        // Messages passed through, and Chat translated for a Messages client: the upstream's
        // names.
        let msg = Bytes::from_static(
            br#"{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":"hi"}],"stop_reason":"tool_use","usage":{"input_tokens":1,"output_tokens":1}}"#,
        );
        let leg = Leg::of(Endpoint::Messages, &[Dialect::Messages]);
        let a = read(leg, Endpoint::Messages, &req, msg, true);
        assert_eq!(names(&a).2, ["tool_use"]);
        let leg = Leg::of(Endpoint::Messages, &[Dialect::Chat]);
        let a = read(leg, Endpoint::Messages, &req, chat, true);
        assert_eq!(names(&a).0.as_deref(), Some("chatcmpl-A"));
        assert_eq!(
            names(&a).2,
            ["stop"],
            "the first choice, as the translation keeps it"
        );
    }
}
