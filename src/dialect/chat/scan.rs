//! A Chat Completions stream passed through: read as it passes for usage and generated
//! text; the usage chunk the gateway asked for on the client's behalf removed again.

use bytes::BytesMut;

use super::ChunkIn;
use crate::core::endpoint::Dialect;
use crate::core::outline::ReplyOutline;
use crate::core::stream::StreamTranslator;
use crate::core::usage::{TextEstimate, Usage};
use crate::dialect::sse::{trim_eol, SseLines};

/// Scans a Chat Completions stream as it passes through: reads usage and counts generated text; when the gateway
/// asked for the usage chunk on the client's behalf, removes it again.
pub struct ChunkScan {
    strip_usage_chunk: bool,
    lines: SseLines,
    usage: Option<Usage>,
    generated: TextEstimate,
    done: bool,
    skip_blank: bool,
    /// The answer's outline, read for a traced call.
    outline: Option<ReplyOutline>,
}

impl ChunkScan {
    pub fn new(strip_usage_chunk: bool, max_line: usize) -> ChunkScan {
        ChunkScan {
            strip_usage_chunk,
            lines: SseLines::new(max_line),
            usage: None,
            generated: TextEstimate::default(),
            done: false,
            skip_blank: false,
            outline: None,
        }
    }

    /// Reads one line (without its newline); false when it must not reach the client.
    fn scan_line(&mut self, line: &[u8]) -> bool {
        let line = trim_eol(line);
        if line.is_empty() {
            return !std::mem::take(&mut self.skip_blank);
        }
        self.skip_blank = false;
        let Some(payload) = line.strip_prefix(b"data:") else {
            return true;
        };
        let payload = payload.trim_ascii_start();
        if payload == b"[DONE]" {
            self.done = true;
            return true;
        }
        let Ok(mut chunk) = serde_json::from_slice::<ChunkIn>(payload) else {
            return true;
        };
        for choice in chunk.choices.iter().flatten() {
            if let Some(delta) = &choice.delta {
                delta.estimate(&mut self.generated);
            }
        }
        if let Some(outline) = &mut self.outline {
            outline.start(chunk.id.as_deref(), chunk.model.as_deref());
            for choice in chunk.choices.iter().flatten() {
                if let Some(reason) = &choice.finish_reason {
                    outline.finish(reason);
                }
            }
        }
        if let Some(usage) = chunk.take_usage() {
            self.usage = Some(usage);
            let usage_only = chunk.choices.as_ref().is_none_or(|c| c.is_empty());
            if self.strip_usage_chunk && usage_only {
                self.skip_blank = true;
                return false;
            }
        }
        true
    }
}

impl StreamTranslator for ChunkScan {
    fn feed(&mut self, chunk: &[u8], out: &mut BytesMut) -> Result<(), String> {
        let strip = self.strip_usage_chunk;
        if !strip {
            out.extend_from_slice(chunk);
        }
        let mut lines = std::mem::replace(&mut self.lines, SseLines::new(0));
        let result = lines.feed(chunk, |line| {
            if self.scan_line(line) && strip {
                out.extend_from_slice(line);
            }
        });
        self.lines = lines;
        result
    }

    fn finish(&mut self, out: &mut BytesMut) {
        if let Some(line) = self.lines.finish() {
            if self.scan_line(&line) && self.strip_usage_chunk {
                out.extend_from_slice(&line);
            }
        }
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn generated_tokens(&self) -> i64 {
        self.generated.tokens()
    }

    fn completed(&self) -> bool {
        self.done
    }

    fn keep_outline(&mut self, _upstream: Dialect) {
        self.outline = Some(ReplyOutline::default());
    }

    fn outline(&mut self) -> Option<ReplyOutline> {
        self.outline.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = concat!(
        "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\n",
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\n",
        "data: [DONE]\n\n"
    );

    fn run(strip: bool, split_every: usize) -> (String, ChunkScan) {
        let mut s = ChunkScan::new(strip, 1 << 20);
        let mut out = BytesMut::new();
        for piece in STREAM.as_bytes().chunks(split_every) {
            s.feed(piece, &mut out).unwrap();
        }
        s.finish(&mut out);
        (String::from_utf8(out.to_vec()).unwrap(), s)
    }

    #[test]
    fn passes_everything_when_client_asked_for_usage() {
        for split in [1, 7, 1000] {
            let (out, s) = run(false, split);
            assert_eq!(out, STREAM);
            assert_eq!(s.usage().unwrap().total_tokens, 5);
            assert_eq!(s.generated_tokens(), 2, "'Hel' + 'lo': 5 ASCII chars");
            assert!(s.completed());
        }
    }

    #[test]
    fn strips_the_usage_chunk_it_asked_for() {
        for split in [1, 3, 64, 1000] {
            let (out, s) = run(true, split);
            assert!(!out.contains("usage"), "{out}");
            assert!(out.contains("\"Hel\"") && out.ends_with("data: [DONE]\n\n"));
            assert_eq!(out.matches("\n\n").count(), 3, "{out:?}");
            assert_eq!(s.usage().unwrap().prompt_tokens, 3);
        }
    }

    #[test]
    fn a_line_without_end_is_cut_off() {
        let mut s = ChunkScan::new(false, 1024);
        let mut out = BytesMut::new();
        let piece = [b'x'; 300];
        assert!(s.feed(b"data: ", &mut out).is_ok());
        let results: Vec<bool> = (0..4).map(|_| s.feed(&piece, &mut out).is_ok()).collect();
        assert_eq!(results, vec![true, true, true, false]);
        assert!(s.lines.finish().is_none(), "the buffered line was dropped");
    }

    #[test]
    fn estimates_tool_calls_refusals_and_wide_text() {
        let mut s = ChunkScan::new(false, 1 << 20);
        let mut out = BytesMut::new();
        let events = concat!(
            "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"name\":\"get\",\"arguments\":\"{\\\"city\\\":\"}}]}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"你好世界\"}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"refusal\":\"no\"}}]}\n\n",
        );
        s.feed(events.as_bytes(), &mut out).unwrap();
        // "get" (1) + "{\"city\":" (2) + "\"Paris\"}" (2) + 4 CJK chars (4) + "no" (1)
        assert_eq!(s.generated_tokens(), 10);
    }
}
