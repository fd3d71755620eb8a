//! The one server-sent-events line reader every stream translator uses: splits bytes into
//! lines as they arrive, never buffering more than one partial line, and that one capped.

use bytes::BytesMut;

/// Splits a byte stream into lines. Each line is handed over with its `\n` (and `\r`), so a
/// relay can pass it on byte for byte; `trim_eol` and `data_of` read it.
pub struct SseLines {
    partial: Vec<u8>,
    max_line: usize,
}

impl SseLines {
    pub fn new(max_line: usize) -> SseLines {
        SseLines {
            partial: Vec::new(),
            max_line,
        }
    }

    /// Calls `line` for every complete line in `chunk` (joined with what an earlier chunk
    /// left unfinished). Fails when an unfinished line grows past the cap.
    pub fn feed(&mut self, chunk: &[u8], mut line: impl FnMut(&[u8])) -> Result<(), String> {
        let mut start = 0;
        while let Some(offset) = chunk[start..].iter().position(|&b| b == b'\n') {
            let end = start + offset + 1;
            if self.partial.is_empty() {
                line(&chunk[start..end]);
            } else {
                self.partial.extend_from_slice(&chunk[start..end]);
                let whole = std::mem::take(&mut self.partial);
                line(&whole);
            }
            start = end;
        }
        if self.partial.len() + (chunk.len() - start) > self.max_line {
            self.partial = Vec::new();
            return Err(format!(
                "upstream sent an event-stream line longer than {} bytes",
                self.max_line
            ));
        }
        self.partial.extend_from_slice(&chunk[start..]);
        Ok(())
    }

    /// The unfinished last line, if the stream ended without a newline.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        let rest = std::mem::take(&mut self.partial);
        (!rest.is_empty()).then_some(rest)
    }
}

/// A line without its `\n` or `\r\n`.
pub fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The payload of a `data:` line.
pub fn data_of(line: &[u8]) -> Option<&[u8]> {
    trim_eol(line)
        .strip_prefix(b"data:")
        .map(<[u8]>::trim_ascii_start)
}

/// A stream reader that acts on each `data:` payload: implementors say where their line
/// reader is and what a payload does; `read` and `read_rest` do the rest.
pub trait DataEvents {
    fn lines(&mut self) -> &mut SseLines;

    fn on_data(&mut self, data: &[u8], out: &mut BytesMut);

    /// Reads a chunk, acting on every complete `data:` line in it.
    fn read(&mut self, chunk: &[u8], out: &mut BytesMut) -> Result<(), String> {
        // The reader is taken out while its lines are handed to `on_data`, which borrows
        // `self` (an empty reader allocates nothing).
        let mut lines = std::mem::replace(self.lines(), SseLines::new(0));
        let result = lines.feed(chunk, |line| {
            if let Some(data) = data_of(line) {
                self.on_data(data, out);
            }
        });
        *self.lines() = lines;
        result
    }

    /// Acts on an unfinished last line at the end of the stream.
    fn read_rest(&mut self, out: &mut BytesMut) {
        if let Some(rest) = self.lines().finish() {
            if let Some(data) = data_of(&rest) {
                self.on_data(data, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_across_chunks_and_the_cap() {
        let mut s = SseLines::new(16);
        let mut got = Vec::new();
        for piece in [&b"event: a\r\nda"[..], b"ta: {}\n", b"\n", b"tail"] {
            s.feed(piece, |l| got.push(String::from_utf8_lossy(l).to_string()))
                .unwrap();
        }
        assert_eq!(got, vec!["event: a\r\n", "data: {}\n", "\n"]);
        assert_eq!(trim_eol(b"event: a\r\n"), b"event: a");
        assert_eq!(s.finish().as_deref(), Some(&b"tail"[..]));
        assert!(s.feed(&[b'x'; 17], |_| {}).is_err());
        assert_eq!(data_of(b"data: [DONE]"), Some(&b"[DONE]"[..]));
    }
}
