//! A whole answer, as the client gets it: on a pass-through leg the upstream's bytes (read
//! for usage), on a translated one the upstream's reply decoded into the core and written
//! in the client's dialect.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;

use super::leg::Leg;
use super::ClientRequest;
use crate::core::endpoint::{Dialect, Endpoint};
use crate::core::reply::Reply;
use crate::core::usage::{OpenAiUsage, TextEstimate, Usage};
use crate::dialect::chat::ChunkIn;
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
}

impl Answer {
    /// An answer passed on as the upstream sent it.
    pub fn relayed(body: Bytes, usage: Option<Usage>, generated: i64) -> Answer {
        Answer {
            body,
            usage,
            generated,
            response_object: None,
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
        }
    }
}

/// Reads the upstream's whole answer `body` to a call on `leg`.
pub fn read(leg: Leg, endpoint: Endpoint, req: &ClientRequest, body: Bytes) -> Answer {
    if !leg.passes_through() {
        return match crate::dialect::decode_reply(leg.upstream, &body) {
            Ok(reply) => Answer::translated(endpoint, req, &reply),
            Err(e) => {
                log::warn!("{e}");
                Answer::relayed(body, None, 0)
            }
        };
    }
    match (leg.upstream, endpoint) {
        // Counting generates nothing and costs nothing.
        (_, Endpoint::CountTokens) => Answer::relayed(body, Some(Usage::default()), 0),
        (Dialect::Chat, _) => chat_answer(endpoint, body),
        (Dialect::Messages, _) => {
            let (usage, generated) = crate::dialect::decode_reply(Dialect::Messages, &body)
                .map(|reply| (reply.usage, reply.generated()))
                .unwrap_or((None, 0));
            Answer::relayed(body, usage, generated)
        }
        (Dialect::Responses, _) => {
            responses_answer(&body, req).unwrap_or_else(|| Answer::relayed(body, None, 0))
        }
    }
}

/// A Chat Completions (or embeddings) answer: its usage with the service tier it was
/// served at, or an estimate of the text it holds.
fn chat_answer(endpoint: Endpoint, body: Bytes) -> Answer {
    #[derive(Deserialize)]
    struct WithUsage {
        usage: Option<OpenAiUsage>,
        #[serde(default)]
        service_tier: Option<String>,
    }
    let usage = serde_json::from_slice::<WithUsage>(&body)
        .ok()
        .and_then(|b| b.usage.map(|u| u.billed(b.service_tier.as_deref())));
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
    Answer::relayed(body, usage, generated.tokens())
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
        );
        assert!(answer.usage.is_none());
        assert_eq!(answer.generated, 4, "16 ASCII characters");
    }
}
