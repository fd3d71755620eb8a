//! The Responses API's client side, stream half: core stream events written as Responses
//! stream events, numbered, with the final response kept for storing.

use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use serde_json::{json, Value};

use super::output::{
    message_item, output_text, reasoning_item, response_object, status_of, tool_item, usage_object,
};
use super::{new_id, Context};
use crate::core::event::{BlockDelta, BlockKind, Event};
use crate::core::reply::StopReason;
use crate::core::stream::{EventWriter, StreamState};

/// An output item being streamed.
enum Open {
    Message {
        id: String,
        text: String,
    },
    Reasoning {
        id: String,
        text: String,
        signature: String,
    },
    Tool {
        id: String,
        call_id: String,
        name: String,
        args: String,
    },
}

/// Writes core events as Responses stream events (`event: <type>` and `data: {…}` with
/// `sequence_number`), keeping the output items for `response.completed` and for storing.
pub struct ResponseEventWriter {
    ctx: Arc<Context>,
    sequence: u64,
    started: bool,
    /// Open items by the core's block index: (block index, output index, item).
    open: Vec<(usize, usize, Open)>,
    /// Finished output items, by output index.
    output: Vec<Value>,
    stop: Option<StopReason>,
    /// The final response object, once written.
    finished: Option<Value>,
}

impl ResponseEventWriter {
    pub fn new(ctx: Arc<Context>) -> ResponseEventWriter {
        ResponseEventWriter {
            ctx,
            sequence: 0,
            started: false,
            open: Vec::new(),
            output: Vec::new(),
            stop: None,
            finished: None,
        }
    }

    fn emit(&mut self, kind: &str, mut data: Value, out: &mut BytesMut) {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(self.sequence);
        self.sequence += 1;
        out.put_slice(b"event: ");
        out.put_slice(kind.as_bytes());
        out.put_slice(b"\ndata: ");
        out.put_slice(data.to_string().as_bytes());
        out.put_slice(b"\n\n");
    }

    fn start(&mut self, out: &mut BytesMut) {
        if std::mem::replace(&mut self.started, true) {
            return;
        }
        let response = response_object(&self.ctx, "in_progress", Vec::new(), None, None);
        self.emit("response.created", json!({"response": response}), out);
        let response = response_object(&self.ctx, "in_progress", Vec::new(), None, None);
        self.emit("response.in_progress", json!({"response": response}), out);
    }

    fn open(&mut self, index: usize, block: &BlockKind, out: &mut BytesMut) {
        let output_index = self.output.len() + self.open.len();
        let (item, open) = match block {
            BlockKind::Text => {
                let id = new_id("msg");
                (
                    message_item(&id, "in_progress", ""),
                    Open::Message {
                        id,
                        text: String::new(),
                    },
                )
            }
            BlockKind::Thinking => {
                let id = new_id("rs");
                (
                    reasoning_item(&id, "", ""),
                    Open::Reasoning {
                        id,
                        text: String::new(),
                        signature: String::new(),
                    },
                )
            }
            BlockKind::ToolUse { id: call_id, name } => {
                let id = new_id("fc");
                let mut item = tool_item(&self.ctx, &id, "in_progress", call_id, name, "");
                if item["type"] == "custom_tool_call" {
                    item["input"] = json!("");
                }
                (
                    item,
                    Open::Tool {
                        id,
                        call_id: call_id.clone(),
                        name: name.clone(),
                        args: String::new(),
                    },
                )
            }
            BlockKind::Other => return,
        };
        self.emit(
            "response.output_item.added",
            json!({"output_index": output_index, "item": item}),
            out,
        );
        match &open {
            Open::Message { id, .. } => self.emit(
                "response.content_part.added",
                json!({"item_id": id, "output_index": output_index, "content_index": 0,
                    "part": output_text("")}),
                out,
            ),
            Open::Reasoning { id, .. } => self.emit(
                "response.reasoning_summary_part.added",
                json!({"item_id": id, "output_index": output_index, "summary_index": 0,
                    "part": {"type": "summary_text", "text": ""}}),
                out,
            ),
            Open::Tool { .. } => {}
        }
        self.open.push((index, output_index, open));
    }

    fn delta(&mut self, index: usize, delta: &BlockDelta, out: &mut BytesMut) {
        let Some(pos) = self.open.iter().position(|(i, _, _)| *i == index) else {
            return;
        };
        let output_index = self.open[pos].1;
        let custom =
            matches!(&self.open[pos].2, Open::Tool { name, .. } if self.ctx.is_custom(name));
        let event = match (&mut self.open[pos].2, delta) {
            (Open::Message { id, text }, BlockDelta::Text(t)) => {
                text.push_str(t);
                Some((
                    "response.output_text.delta",
                    json!({"item_id": id, "output_index": output_index, "content_index": 0,
                        "delta": t, "logprobs": []}),
                ))
            }
            (Open::Reasoning { id, text, .. }, BlockDelta::Thinking(t)) => {
                text.push_str(t);
                Some((
                    "response.reasoning_summary_text.delta",
                    json!({"item_id": id, "output_index": output_index, "summary_index": 0,
                        "delta": t}),
                ))
            }
            (Open::Reasoning { signature, .. }, BlockDelta::Signature(s)) => {
                signature.push_str(s);
                None
            }
            (Open::Tool { id, args, .. }, BlockDelta::ToolInput(t)) => {
                args.push_str(t);
                // A custom tool's input is one JSON string argument: it goes out whole
                // when the call ends.
                (!custom).then(|| {
                    (
                        "response.function_call_arguments.delta",
                        json!({"item_id": id, "output_index": output_index, "delta": t}),
                    )
                })
            }
            _ => None,
        };
        if let Some((kind, data)) = event {
            self.emit(kind, data, out);
        }
    }

    fn close(&mut self, index: usize, out: &mut BytesMut) {
        let Some(pos) = self.open.iter().position(|(i, _, _)| *i == index) else {
            return;
        };
        let (_, output_index, open) = self.open.remove(pos);
        let item = match open {
            Open::Message { id, text } => {
                self.emit(
                    "response.output_text.done",
                    json!({"item_id": id, "output_index": output_index, "content_index": 0,
                        "text": text, "logprobs": []}),
                    out,
                );
                self.emit(
                    "response.content_part.done",
                    json!({"item_id": id, "output_index": output_index, "content_index": 0,
                        "part": output_text(&text)}),
                    out,
                );
                message_item(&id, "completed", &text)
            }
            Open::Reasoning {
                id,
                text,
                signature,
            } => {
                self.emit(
                    "response.reasoning_summary_text.done",
                    json!({"item_id": id, "output_index": output_index, "summary_index": 0,
                        "text": text}),
                    out,
                );
                self.emit(
                    "response.reasoning_summary_part.done",
                    json!({"item_id": id, "output_index": output_index, "summary_index": 0,
                        "part": {"type": "summary_text", "text": text}}),
                    out,
                );
                reasoning_item(&id, &text, &signature)
            }
            Open::Tool {
                id,
                call_id,
                name,
                args,
            } => {
                let args = if args.trim().is_empty() {
                    "{}".to_string()
                } else {
                    args
                };
                let item = tool_item(&self.ctx, &id, "completed", &call_id, &name, &args);
                if item["type"] == "custom_tool_call" {
                    let input = item["input"].clone();
                    self.emit(
                        "response.custom_tool_call_input.delta",
                        json!({"item_id": id, "output_index": output_index, "delta": input}),
                        out,
                    );
                    self.emit(
                        "response.custom_tool_call_input.done",
                        json!({"item_id": id, "output_index": output_index, "input": input}),
                        out,
                    );
                } else {
                    self.emit(
                        "response.function_call_arguments.done",
                        json!({"item_id": id, "output_index": output_index, "name": name,
                            "arguments": args}),
                        out,
                    );
                }
                item
            }
        };
        self.emit(
            "response.output_item.done",
            json!({"output_index": output_index, "item": item}),
            out,
        );
        if self.output.len() <= output_index {
            self.output.resize(output_index + 1, Value::Null);
        }
        self.output[output_index] = item;
    }

    fn close_all(&mut self, out: &mut BytesMut) {
        while let Some(&(index, _, _)) = self.open.first() {
            self.close(index, out);
        }
    }

    /// The final response object (`response.completed` / `.incomplete`), when the stream
    /// ended normally.
    pub fn finished(&self) -> Option<&Value> {
        self.finished.as_ref()
    }
}

impl EventWriter for ResponseEventWriter {
    fn write(&mut self, event: &Event, state: &StreamState, out: &mut BytesMut) {
        if !matches!(event, Event::Error { .. }) {
            self.start(out);
        }
        match event {
            Event::Start { .. } | Event::Usage(_) => {}
            Event::BlockStart { index, block } => self.open(*index, block, out),
            Event::BlockDelta { index, delta } => self.delta(*index, delta, out),
            Event::BlockStop { index } => self.close(*index, out),
            Event::Finish(stop) => self.stop = Some(*stop),
            Event::Error { kind, message } => {
                self.start(out);
                let code = kind.clone().unwrap_or_else(|| "upstream_error".into());
                self.emit(
                    "error",
                    json!({"code": code, "message": message, "param": null}),
                    out,
                );
                let mut response = response_object(
                    &self.ctx,
                    "failed",
                    self.output.clone(),
                    Some(usage_object(state.usage.as_ref())),
                    None,
                );
                response["error"] = json!({"code": code, "message": message});
                self.emit("response.failed", json!({"response": response}), out);
            }
            Event::Done => {
                if self.finished.is_some() {
                    return;
                }
                self.close_all(out);
                let status = status_of(self.stop);
                let output: Vec<Value> = self
                    .output
                    .iter()
                    .filter(|v| !v.is_null())
                    .cloned()
                    .collect();
                let response = response_object(
                    &self.ctx,
                    status,
                    output,
                    Some(usage_object(state.usage.as_ref())),
                    self.stop,
                );
                let kind = if status == "incomplete" {
                    "response.incomplete"
                } else {
                    "response.completed"
                };
                self.emit(kind, json!({"response": response.clone()}), out);
                self.finished = Some(response);
            }
        }
    }

    fn response_object(&mut self) -> Option<Value> {
        self.finished.take()
    }
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
