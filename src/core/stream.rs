//! Streamed answers: the interface the relay drives (`StreamTranslator`), and the two
//! halves a translated stream is made of — an upstream-side `EventReader` (its dialect's
//! events to the core's) and a client-side `EventWriter` (the core's events to its
//! dialect's bytes).

use bytes::BytesMut;

use super::endpoint::Dialect;
use super::event::Event;
use super::outline::ReplyOutline;
use super::usage::{TextEstimate, Usage};

/// Translates (or passes) one streamed answer, chunk by chunk, without buffering it.
pub trait StreamTranslator {
    /// Feeds upstream bytes; appends what the client must receive to `out`. An error ends
    /// the stream (e.g. a line longer than `upstream.max_sse_line_bytes`).
    fn feed(&mut self, chunk: &[u8], out: &mut BytesMut) -> Result<(), String>;
    /// Called once at the end of the upstream stream; may append a tail.
    fn finish(&mut self, out: &mut BytesMut);
    /// Usage reported by the upstream, if it arrived.
    fn usage(&self) -> Option<Usage>;
    /// Estimated tokens of the generated text relayed so far (text, reasoning, refusals,
    /// tool-call arguments), for when usage is missing.
    fn generated_tokens(&self) -> i64;
    /// Whether the upstream signalled a normal end (`[DONE]`, `message_stop`, ...).
    fn completed(&self) -> bool;
    /// What the stream amounted to, where the client's dialect keeps it (the Responses
    /// API's final response object, for storing); taken once, after a normal end.
    fn response_object(&mut self) -> Option<serde_json::Value> {
        None
    }
    /// Starts reading the answer's outline (a traced call only), its finish reasons named
    /// as `upstream` names them.
    fn keep_outline(&mut self, _upstream: Dialect) {}
    /// The outline read so far (`None`: none was kept).
    fn outline(&mut self) -> Option<ReplyOutline> {
        None
    }
}

/// What a translated stream knows so far, kept by the translation and shown to writers.
#[derive(Debug, Default)]
pub struct StreamState {
    /// The latest usage the upstream reported.
    pub usage: Option<Usage>,
    /// Estimate of the generated text relayed so far.
    pub generated: TextEstimate,
    /// The upstream ended normally.
    pub done: bool,
    /// The upstream reported an error.
    pub failed: bool,
}

impl StreamState {
    /// Takes an event into account (before the writer sees it).
    pub fn observe(&mut self, event: &Event) {
        use super::event::{BlockDelta, BlockKind};
        match event {
            Event::Usage(usage) => self.usage = Some(*usage),
            Event::BlockStart {
                block: BlockKind::ToolUse { name, .. },
                ..
            } => self.generated.add(name),
            Event::BlockDelta { delta, .. } => match delta {
                BlockDelta::Text(t) | BlockDelta::Thinking(t) | BlockDelta::ToolInput(t) => {
                    self.generated.add(t)
                }
                BlockDelta::Signature(_) => {}
            },
            Event::Done => self.done = true,
            Event::Error { .. } => self.failed = true,
            _ => {}
        }
    }
}

/// The upstream side of a translated stream: reads one `data:` payload of its dialect and
/// pushes the core events it means.
pub trait EventReader {
    fn read(&mut self, data: &[u8], events: &mut Vec<Event>);
    /// The whole answer as the upstream summed it up, where its dialect does (a native
    /// Responses stream's final response object).
    fn response_object(&mut self) -> Option<serde_json::Value> {
        None
    }
}

/// The client side of a translated stream: writes one core event in its dialect.
pub trait EventWriter {
    fn write(&mut self, event: &Event, state: &StreamState, out: &mut BytesMut);
    /// The whole answer as written, where the dialect keeps one (the Responses API's final
    /// response object).
    fn response_object(&mut self) -> Option<serde_json::Value> {
        None
    }
}

impl<R: EventReader + ?Sized> EventReader for Box<R> {
    fn read(&mut self, data: &[u8], events: &mut Vec<Event>) {
        (**self).read(data, events)
    }

    fn response_object(&mut self) -> Option<serde_json::Value> {
        (**self).response_object()
    }
}

impl<W: EventWriter + ?Sized> EventWriter for Box<W> {
    fn write(&mut self, event: &Event, state: &StreamState, out: &mut BytesMut) {
        (**self).write(event, state, out)
    }

    fn response_object(&mut self) -> Option<serde_json::Value> {
        (**self).response_object()
    }
}
