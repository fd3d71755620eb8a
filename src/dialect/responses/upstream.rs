//! The Responses API's upstream side, for providers that speak it natively: their stream
//! events read into the core's (for metering a relayed stream), their whole answers read
//! for usage and generated text.

use serde::Deserialize;
use serde_json::Value;

use crate::core::event::{BlockDelta, BlockKind, Event};
use crate::core::reply::StopReason;
use crate::core::stream::EventReader;
use crate::core::usage::{ServiceTier, TextEstimate, Usage};

/// Responses usage, as OpenAI reports it.
#[derive(Debug, Deserialize, Default)]
pub struct ResponsesUsage {
    #[serde(default)]
    input_tokens: i64,
    #[serde(default)]
    output_tokens: i64,
    #[serde(default)]
    input_tokens_details: Option<Value>,
    #[serde(default)]
    output_tokens_details: Option<Value>,
}

impl From<ResponsesUsage> for Usage {
    fn from(u: ResponsesUsage) -> Usage {
        let detail = |d: &Option<Value>, key: &str| {
            d.as_ref()
                .and_then(|d| d.get(key))
                .and_then(Value::as_i64)
                .unwrap_or(0)
        };
        Usage::reported(
            u.input_tokens,
            u.output_tokens,
            None,
            detail(&u.input_tokens_details, "cached_tokens"),
            detail(&u.output_tokens_details, "reasoning_tokens"),
        )
    }
}

/// The usage of a response object, if it has any.
pub fn usage_of(response: &Value) -> Option<Usage> {
    let usage = response.get("usage").filter(|u| u.is_object())?;
    let usage = ResponsesUsage::deserialize(usage).ok().map(Usage::from)?;
    // Hosted web searches are billed per call: one `web_search_call` item each.
    let searches = response["output"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|item| item["type"] == "web_search_call")
        .count() as i64;
    Some(Usage {
        web_search_requests: searches,
        service_tier: ServiceTier::parse(response["service_tier"].as_str().unwrap_or("")),
        ..usage
    })
}

/// An estimate of what a response object's output generated (text, reasoning summaries,
/// tool-call names, arguments and inputs).
pub fn generated_of(response: &Value) -> i64 {
    let mut estimate = TextEstimate::default();
    for item in response["output"].as_array().into_iter().flatten() {
        for key in ["name", "arguments", "input"] {
            if let Some(s) = item[key].as_str() {
                estimate.add(s);
            }
        }
        for part in item["content"]
            .as_array()
            .into_iter()
            .chain(item["summary"].as_array())
            .flatten()
        {
            if let Some(s) = part["text"].as_str() {
                estimate.add(s);
            }
        }
    }
    estimate.tokens()
}

/// Reads a native Responses stream: deltas become the core's deltas (by output index),
/// `response.completed` / `.incomplete` usage and the end, `error` / `response.failed` an
/// error. The final response object is kept (for storing).
#[derive(Default)]
pub struct ResponseEventReader {
    finished: Option<Value>,
}

impl EventReader for ResponseEventReader {
    fn read(&mut self, data: &[u8], events: &mut Vec<Event>) {
        #[derive(Deserialize)]
        struct Peek<'a> {
            #[serde(rename = "type", borrow)]
            kind: std::borrow::Cow<'a, str>,
            #[serde(default)]
            output_index: usize,
            #[serde(default)]
            delta: Option<Value>,
            #[serde(default)]
            item: Option<Value>,
            #[serde(default)]
            response: Option<Value>,
            #[serde(default)]
            message: Option<String>,
            #[serde(default)]
            code: Option<Value>,
        }
        let Ok(event) = serde_json::from_slice::<Peek>(data) else {
            return;
        };
        let index = event.output_index;
        let text = || {
            event
                .delta
                .as_ref()
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        match event.kind.as_ref() {
            "response.created" => {
                let r = event.response.as_ref();
                let field = |k: &str| {
                    r.and_then(|r| r[k].as_str())
                        .unwrap_or_default()
                        .to_string()
                };
                events.push(Event::Start {
                    id: field("id"),
                    model: field("model"),
                });
            }
            "response.output_item.added" => {
                let item = event.item.unwrap_or(Value::Null);
                let block = match item["type"].as_str() {
                    Some("message") => BlockKind::Text,
                    Some("reasoning") => BlockKind::Thinking,
                    Some("function_call") | Some("custom_tool_call") => BlockKind::ToolUse {
                        id: item["call_id"].as_str().unwrap_or_default().to_string(),
                        name: item["name"].as_str().unwrap_or_default().to_string(),
                    },
                    _ => BlockKind::Other,
                };
                events.push(Event::BlockStart { index, block });
            }
            "response.output_text.delta" | "response.refusal.delta" => {
                events.push(Event::BlockDelta {
                    index,
                    delta: BlockDelta::Text(text()),
                })
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => events
                .push(Event::BlockDelta {
                    index,
                    delta: BlockDelta::Thinking(text()),
                }),
            "response.function_call_arguments.delta" | "response.custom_tool_call_input.delta" => {
                events.push(Event::BlockDelta {
                    index,
                    delta: BlockDelta::ToolInput(text()),
                })
            }
            "response.output_item.done" => events.push(Event::BlockStop { index }),
            "response.completed" | "response.incomplete" => {
                let response = event.response.unwrap_or(Value::Null);
                if let Some(usage) = usage_of(&response) {
                    events.push(Event::Usage(usage));
                }
                events.push(Event::Finish(if event.kind == "response.incomplete" {
                    StopReason::MaxTokens
                } else {
                    StopReason::EndTurn
                }));
                events.push(Event::Done);
                self.finished = Some(response);
            }
            "response.failed" | "error" => {
                let response = event.response.unwrap_or(Value::Null);
                if let Some(usage) = usage_of(&response) {
                    events.push(Event::Usage(usage));
                }
                let message = event
                    .message
                    .or_else(|| {
                        response
                            .pointer("/error/message")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    })
                    .unwrap_or_else(|| "the upstream's response failed".into());
                events.push(Event::Error {
                    kind: event.code.and_then(|c| c.as_str().map(str::to_string)),
                    message,
                });
            }
            _ => {}
        }
    }

    fn response_object(&mut self) -> Option<Value> {
        self.finished.take()
    }
}

#[cfg(test)]
mod sanity_tests {
    use super::*;

    #[test]
    fn native_usage_is_made_sane() {
        let odd = serde_json::json!({"usage": {"input_tokens": -5, "output_tokens": i64::MAX,
            "input_tokens_details": {"cached_tokens": 99}, "output_tokens_details": {"reasoning_tokens": -3}}});
        let u = usage_of(&odd).unwrap();
        assert_eq!((u.prompt_tokens, u.completion_tokens), (0, i64::MAX));
        assert_eq!(u.total_tokens, i64::MAX, "saturated, not wrapped");
        assert_eq!((u.cached_tokens, u.reasoning_tokens), (0, 0));
        let big =
            serde_json::json!({"usage": {"input_tokens": i64::MAX, "output_tokens": i64::MAX}});
        assert_eq!(usage_of(&big).unwrap().total_tokens, i64::MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::stream::StreamState;

    #[test]
    fn reads_usage_text_and_the_final_response() {
        let mut reader = ResponseEventReader::default();
        let mut events = Vec::new();
        let mut state = StreamState::default();
        for line in [
            r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_x","model":"m"}}"#,
            r#"{"type":"response.output_item.added","output_index":0,"item":{"type":"message"}}"#,
            r#"{"type":"response.output_text.delta","output_index":0,"delta":"Hello there"}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{}}"#,
            r#"{"type":"response.completed","response":{"id":"resp_x","output":[],"usage":{"input_tokens":7,"output_tokens":3,"input_tokens_details":{"cached_tokens":2},"output_tokens_details":{"reasoning_tokens":1},"total_tokens":10}}}"#,
        ] {
            reader.read(line.as_bytes(), &mut events);
        }
        for e in &events {
            state.observe(e);
        }
        let usage = state.usage.unwrap();
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (7, 3));
        assert_eq!((usage.cached_tokens, usage.reasoning_tokens), (2, 1));
        assert!(state.done && state.generated.tokens() > 0);
        assert_eq!(reader.response_object().unwrap()["id"], "resp_x");
    }

    #[test]
    fn estimates_a_whole_answer() {
        let body = serde_json::json!({"output": [
            {"type": "message", "content": [{"type": "output_text", "text": "abcdefgh"}]},
            {"type": "function_call", "name": "f", "arguments": "{}"}]});
        assert!(generated_of(&body) >= 3);
        assert!(usage_of(&body).is_none());
    }
}
