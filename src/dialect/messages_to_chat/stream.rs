//! A Chat Completions stream as Anthropic's event sequence, chunk by chunk.

use bytes::BytesMut;
use serde_json::{json, Value};

use super::{anthropic_usage, stop_reason};
use crate::core::stream::StreamTranslator;
use crate::core::usage::{TextEstimate, Usage};
use crate::dialect::openai::ChunkIn;
use crate::dialect::sse::{DataEvents, SseLines};

/// What kind of content block is open in the translated stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    None,
    Thinking,
    Text,
    /// A tool call, by its OpenAI index.
    Tool(u64),
}

/// Translates Chat Completions chunks into Anthropic's event sequence as they arrive:
/// `message_start`, per block `content_block_start` / `_delta`… / `_stop`, `message_delta`
/// with the stop reason and usage, `message_stop`.
pub struct ChatToMessagesStream {
    lines: SseLines,
    started: bool,
    open: Open,
    /// Index of the next content block.
    next_block: usize,
    finish: Option<String>,
    usage: Option<Usage>,
    generated: TextEstimate,
    done: bool,
    failed: bool,
}

impl ChatToMessagesStream {
    pub fn new(max_line: usize) -> ChatToMessagesStream {
        ChatToMessagesStream {
            lines: SseLines::new(max_line),
            started: false,
            open: Open::None,
            next_block: 0,
            finish: None,
            usage: None,
            generated: TextEstimate::default(),
            done: false,
            failed: false,
        }
    }

    fn close(&mut self, out: &mut BytesMut) {
        if self.open != Open::None {
            let index = self.next_block - 1;
            event(
                out,
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            );
            self.open = Open::None;
        }
    }

    fn open_block(&mut self, out: &mut BytesMut, kind: Open, block: Value) -> usize {
        self.close(out);
        let index = self.next_block;
        self.next_block += 1;
        self.open = kind;
        event(
            out,
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        );
        index
    }

    fn delta(&mut self, out: &mut BytesMut, kind: Open, delta: Value) {
        if self.open != kind {
            let block = match kind {
                Open::Thinking => json!({"type": "thinking", "thinking": "", "signature": ""}),
                _ => json!({"type": "text", "text": ""}),
            };
            self.open_block(out, kind, block);
        }
        let index = self.next_block - 1;
        event(
            out,
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": index, "delta": delta}),
        );
    }

    fn chunk(&mut self, payload: &[u8], out: &mut BytesMut) {
        if payload == b"[DONE]" {
            self.end(out);
            return;
        }
        let Ok(chunk) = serde_json::from_slice::<ChunkIn>(payload) else {
            return;
        };
        if let Some(error) = chunk.error {
            let message = error["message"].as_str().unwrap_or("upstream error");
            event(
                out,
                "error",
                &json!({"type": "error", "error": {"type": "api_error", "message": message}}),
            );
            self.failed = true;
            return;
        }
        if !self.started {
            self.started = true;
            event(
                out,
                "message_start",
                &json!({"type": "message_start", "message": {
                    "id": format!("msg_{}", chunk.id.unwrap_or_default()), "type": "message",
                    "role": "assistant", "model": chunk.model.unwrap_or_default(), "content": [],
                    "stop_reason": null,
                    "stop_sequence": null,
                    "usage": {"input_tokens": 0, "output_tokens": 0}}}),
            );
        }
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage.into());
        }
        let Some(choice) = chunk.choices.into_iter().flatten().next() else {
            return;
        };
        if let Some(delta) = choice.delta {
            if let Some(thinking) = delta.reasoning_content.as_ref().filter(|t| !t.is_empty()) {
                self.generated.add(thinking);
                self.delta(
                    out,
                    Open::Thinking,
                    json!({"type": "thinking_delta", "thinking": thinking}),
                );
            }
            if let Some(text) = delta.text().filter(|t| !t.is_empty()) {
                self.generated.add(text);
                self.delta(out, Open::Text, json!({"type": "text_delta", "text": text}));
            }
            for call in delta.tool_calls.into_iter().flatten() {
                let function = call.function.unwrap_or_default();
                if self.open != Open::Tool(call.index) {
                    let name = function.name.clone().unwrap_or_default();
                    self.generated.add(&name);
                    let id = call
                        .id
                        .clone()
                        .unwrap_or_else(|| format!("toolu_{}", self.next_block));
                    self.open_block(
                        out,
                        Open::Tool(call.index),
                        json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
                    );
                }
                if let Some(arguments) = function.arguments.filter(|a| !a.is_empty()) {
                    self.generated.add(&arguments);
                    let index = self.next_block - 1;
                    event(
                        out,
                        "content_block_delta",
                        &json!({"type": "content_block_delta", "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": arguments}}),
                    );
                }
            }
        }
        if let Some(finish) = choice.finish_reason {
            self.finish = Some(finish);
        }
    }

    fn end(&mut self, out: &mut BytesMut) {
        if self.done || !self.started {
            return;
        }
        self.close(out);
        let u = self.usage.unwrap_or_default();
        let mut usage = anthropic_usage(&u);
        if self.usage.is_none() {
            usage["output_tokens"] = json!(self.generated.tokens());
        }
        event(
            out,
            "message_delta",
            &json!({"type": "message_delta",
                "delta": {"stop_reason": stop_reason(self.finish.as_deref()), "stop_sequence": null},
                "usage": usage}),
        );
        event(out, "message_stop", &json!({"type": "message_stop"}));
        self.done = true;
    }
}

fn event(out: &mut BytesMut, name: &str, data: &Value) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(data.to_string().as_bytes());
    out.extend_from_slice(b"\n\n");
}

impl DataEvents for ChatToMessagesStream {
    fn lines(&mut self) -> &mut SseLines {
        &mut self.lines
    }

    fn on_data(&mut self, data: &[u8], out: &mut BytesMut) {
        self.chunk(data, out);
    }
}

impl StreamTranslator for ChatToMessagesStream {
    fn feed(&mut self, chunk: &[u8], out: &mut BytesMut) -> Result<(), String> {
        self.read(chunk, out)
    }

    fn finish(&mut self, out: &mut BytesMut) {
        self.read_rest(out);
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn generated_tokens(&self) -> i64 {
        self.generated.tokens()
    }

    fn completed(&self) -> bool {
        self.done && !self.failed
    }
}
