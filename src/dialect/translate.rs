//! A translated stream: an upstream dialect's reader and a client dialect's writer joined
//! through the core's events, one `data:` payload at a time, nothing buffered beyond one
//! partial line.

use bytes::BytesMut;

use super::sse::{DataEvents, SseLines};
use crate::core::endpoint::Dialect;
use crate::core::event::Event;
use crate::core::outline::ReplyOutline;
use crate::core::stream::{EventReader, EventWriter, StreamState, StreamTranslator};
use crate::core::usage::Usage;

pub struct Translation<R, W> {
    lines: SseLines,
    reader: R,
    writer: W,
    state: StreamState,
    /// Events of the payload being translated (kept to reuse its allocation).
    events: Vec<Event>,
    /// The answer's outline, read for a traced call (its finish reasons named as the
    /// upstream's dialect names them).
    outline: Option<(Dialect, ReplyOutline)>,
}

impl<R: EventReader, W: EventWriter> Translation<R, W> {
    pub fn new(reader: R, writer: W, max_line: usize) -> Translation<R, W> {
        Translation {
            lines: SseLines::new(max_line),
            reader,
            writer,
            state: StreamState::default(),
            events: Vec::new(),
            outline: None,
        }
    }
}

impl<R: EventReader, W: EventWriter> DataEvents for Translation<R, W> {
    fn lines(&mut self) -> &mut SseLines {
        &mut self.lines
    }

    fn on_data(&mut self, data: &[u8], out: &mut BytesMut) {
        self.reader.read(data, &mut self.events);
        for event in self.events.drain(..) {
            if let Some((dialect, outline)) = &mut self.outline {
                super::outline::observe(outline, *dialect, &event);
            }
            self.state.observe(&event);
            self.writer.write(&event, &self.state, out);
        }
    }
}

impl<R: EventReader, W: EventWriter> StreamTranslator for Translation<R, W> {
    fn feed(&mut self, chunk: &[u8], out: &mut BytesMut) -> Result<(), String> {
        self.read(chunk, out)
    }

    fn finish(&mut self, out: &mut BytesMut) {
        self.read_rest(out);
    }

    fn usage(&self) -> Option<Usage> {
        self.state.usage
    }

    fn generated_tokens(&self) -> i64 {
        self.state.generated.tokens()
    }

    fn completed(&self) -> bool {
        self.state.done && !self.state.failed
    }

    fn response_object(&mut self) -> Option<serde_json::Value> {
        self.writer
            .response_object()
            .or_else(|| self.reader.response_object())
    }

    fn keep_outline(&mut self, upstream: Dialect) {
        self.outline = Some((upstream, ReplyOutline::default()));
    }

    fn outline(&mut self) -> Option<ReplyOutline> {
        self.outline.take().map(|(_, outline)| outline)
    }
}

/// A writer that writes nothing: a pass-through stream's bytes are relayed as they came.
struct Silent;

impl EventWriter for Silent {
    fn write(&mut self, _: &Event, _: &StreamState, _: &mut BytesMut) {}
}

/// A stream relayed untouched (client and upstream speak the same dialect), read by the
/// upstream side as it passes for its usage, generated text and end.
pub struct PassThrough<R> {
    inner: Translation<R, Silent>,
}

impl<R: EventReader> PassThrough<R> {
    pub fn new(reader: R, max_line: usize) -> PassThrough<R> {
        PassThrough {
            inner: Translation::new(reader, Silent, max_line),
        }
    }
}

impl<R: EventReader> StreamTranslator for PassThrough<R> {
    fn feed(&mut self, chunk: &[u8], out: &mut BytesMut) -> Result<(), String> {
        out.extend_from_slice(chunk);
        self.inner.feed(chunk, out)
    }

    fn finish(&mut self, out: &mut BytesMut) {
        self.inner.finish(out);
    }

    fn usage(&self) -> Option<Usage> {
        self.inner.usage()
    }

    fn generated_tokens(&self) -> i64 {
        self.inner.generated_tokens()
    }

    fn completed(&self) -> bool {
        self.inner.completed()
    }

    fn response_object(&mut self) -> Option<serde_json::Value> {
        self.inner.response_object()
    }

    fn keep_outline(&mut self, upstream: Dialect) {
        self.inner.keep_outline(upstream);
    }

    fn outline(&mut self) -> Option<ReplyOutline> {
        self.inner.outline()
    }
}
