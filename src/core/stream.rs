//! The interface of a streamed answer's translation, chunk by chunk.

use bytes::BytesMut;

use super::usage::Usage;

/// Translates one streamed answer, chunk by chunk, without buffering it.
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
}
