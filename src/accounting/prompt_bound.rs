//! An upper bound of the prompt tokens an upstream will count for a request body, for
//! admission: a budget reserves it, so calls in flight together cannot overshoot however
//! their content tokenizes. Pure and linear in the body.
//!
//! Text is bounded by the worst case of its character classes: ASCII letters at two a
//! token, digits, punctuation and symbols at one token each (tokenizers split runs of them
//! down to single characters), white space at two a token, and other characters at one
//! token per UTF-8 byte after the first (a byte-level tokenizer spends at most one token
//! a byte; the first byte of a character always shares). Every string of the body counts;
//! object keys (tool schemas are rendered into the prompt with their property names) at
//! four bytes a token, as the words they are; JSON syntax and numbers count nothing, and
//! each object a few tokens (an upstream adds that much per message).
//!
//! Media and tools that the upstream expands are parsed out (only bodies that mention them
//! pay for a parse): each image at the largest cost of one image among current models,
//! PDF documents per page, Anthropic's tool-use system prompt and server tools by their
//! `max_uses`. What cannot be bounded (documents by URL or file id, code execution, MCP
//! servers, web fetches without limits) is reported, and budgeted tokens are refused it.

use serde_json::Value;

/// Tokens of one image, at most: Anthropic ~1,600 (≤ 1.15 megapixels), OpenAI's tiled
/// models 1,445 at high detail, the patch-based ones up to ~3,800 (gpt-4.1-nano).
pub const IMAGE_TOKENS: i64 = 4_000;
/// gpt-4o-mini counts images ~33 times dearer in tokens (its per-token price is lower):
/// 2,833 + 8 tiles × 5,667.
pub const IMAGE_TOKENS_4O_MINI: i64 = 48_200;
/// Tokens of one PDF page: its text (up to ~3,000 for a dense page) and its image.
pub const PDF_PAGE_TOKENS: i64 = 5_000;
/// Anthropic's tool-use system prompt and an Anthropic-defined tool's own definition
/// (computer use ~735, text editor ~700, bash ~245), at most.
pub const TOOL_OVERHEAD_TOKENS: i64 = 1_000;
/// What one web search adds to the context, at most (the gateway's assumption: results
/// are a handful of pages' excerpts).
pub const WEB_SEARCH_TOKENS: i64 = 25_000;

/// The bound, and why there is none when there is not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PromptBound {
    pub tokens: i64,
    /// Content whose cost cannot be bounded (budgeted tokens are refused it).
    pub unbounded: Option<String>,
}

/// Byte classes: tokens per 2 bytes of each.
const LETTER: u8 = 1;
const SINGLE: u8 = 2;
const SPACE: u8 = 1;

const fn class_table() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if c.is_ascii_alphabetic() {
            LETTER
        } else if c == b' ' || c == b'\t' || c == b'\n' || c == b'\r' {
            SPACE
        } else if c < 0x80 || c & 0xC0 == 0x80 {
            // Digits, punctuation, symbols, control characters; a UTF-8 continuation byte.
            SINGLE
        } else {
            0 // the first byte of a non-ASCII character shares its continuation's token
        };
        b += 1;
    }
    t
}

static CLASS: [u8; 256] = class_table();

/// The worst-case tokens of text.
pub fn text_bound(bytes: &[u8]) -> i64 {
    let halves: u64 = bytes.iter().map(|b| u64::from(CLASS[*b as usize])).sum();
    halves.div_ceil(2) as i64
}

/// Tokens an upstream adds per message (role, separators): OpenAI documents 3 per message
/// and 3 to prime the reply; counted for every JSON object.
const PER_OBJECT_TOKENS: u64 = 3;

/// The worst-case tokens of a JSON body: the text of its strings by class, and a few per
/// object; the JSON syntax between strings (brackets, colons, commas, numbers, literals)
/// is no text an upstream tokenizes, so it counts nothing. Invalid JSON cannot get here
/// (the body was parsed), but any bytes are bounded all the same.
pub fn json_bound(raw: &[u8]) -> i64 {
    scan(raw).0
}

/// `json_bound`, and whether a string of the body starts like a marker of content that
/// may expand upstream — in the same single pass.
fn scan(raw: &[u8]) -> (i64, bool) {
    let mut halves: u64 = 0;
    let mut marked = false;
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'"' => {
                let rest = &raw[i + 1..];
                marked = marked || MARKERS.iter().any(|m| rest.starts_with(m));
                let (string, end) = string_halves(raw, i + 1);
                halves += if is_key(raw, end) {
                    key_halves(end - i - 1)
                } else {
                    string
                };
                i = end + 1;
            }
            b'{' => {
                halves += 2 * PER_OBJECT_TOKENS;
                i += 1;
            }
            _ => i += 1,
        }
    }
    (halves.div_ceil(2) as i64, marked)
}

/// The halves of a string's content from `start`, and where its closing quote is.
fn string_halves(raw: &[u8], start: usize) -> (u64, usize) {
    let mut halves = 0;
    let mut escaped = false;
    let mut i = start;
    while i < raw.len() {
        let b = raw[i];
        if escaped {
            escaped = false;
        } else if b == b'\\' {
            escaped = true;
        } else if b == b'"' {
            return (halves, i);
        }
        halves += u64::from(CLASS[b as usize]);
        i += 1;
    }
    (halves, raw.len())
}

/// Whether the string closing at `end` is an object key (a colon follows).
fn is_key(raw: &[u8], end: usize) -> bool {
    raw.get(end + 1..)
        .and_then(|rest| rest.iter().find(|b| !b.is_ascii_whitespace()))
        == Some(&b':')
}

/// Keys are words an upstream renders at most as its ordinary text (a tool schema's
/// property names), not worst-case text: four bytes a token, rounded up.
fn key_halves(len: usize) -> u64 {
    2 * (len as u64).div_ceil(4)
}

/// How strings that mark content which may expand upstream begin (`image_url`, `image`,
/// `document`, `file`, `file_data`, `input_image`, …, `tools`, `mcp_servers`); a body
/// without any is bounded by its text alone.
const MARKERS: [&[u8]; 8] = [
    b"image",
    b"document\"",
    b"file",
    b"tools\"",
    b"mcp_servers\"",
    b"input_audio\"",
    b"input_image\"",
    b"input_file\"",
];

/// The bound of a request body for `model`.
pub fn prompt_bound(raw: &[u8], model: &str) -> PromptBound {
    let (tokens, marked) = scan(raw);
    if !marked {
        return PromptBound {
            tokens,
            unbounded: None,
        };
    }
    let Ok(body) = serde_json::from_slice::<Value>(raw) else {
        return PromptBound {
            tokens,
            unbounded: None,
        };
    };
    let mut walk = Walk {
        image: if model.contains("4o-mini") {
            IMAGE_TOKENS_4O_MINI
        } else {
            IMAGE_TOKENS
        },
        bound: PromptBound::default(),
    };
    walk.value(&body);
    if let Some(tools) = body.get("tools").and_then(Value::as_array) {
        walk.tools(tools);
    }
    if body
        .get("mcp_servers")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty())
    {
        walk.unbounded("MCP servers (mcp_servers) return content of no known size");
    }
    walk.bound
}

struct Walk {
    image: i64,
    bound: PromptBound,
}

impl Walk {
    fn add(&mut self, tokens: i64) {
        self.bound.tokens = self.bound.tokens.saturating_add(tokens);
    }

    fn unbounded(&mut self, why: &str) {
        self.bound.unbounded.get_or_insert_with(|| why.to_string());
    }

    fn value(&mut self, v: &Value) {
        match v {
            Value::String(s) => self.add(text_bound(s.as_bytes())),
            Value::Array(items) => {
                for item in items {
                    self.value(item);
                }
            }
            Value::Object(map) => {
                if self.media(v) {
                    return;
                }
                self.add(PER_OBJECT_TOKENS as i64);
                for (key, item) in map {
                    self.add(key_halves(key.len()) as i64 / 2);
                    self.value(item);
                }
            }
            // Numbers and literals are parameters, not text.
            _ => {}
        }
    }

    /// A content part that expands upstream: counted here (true) at its bound.
    fn media(&mut self, part: &Value) -> bool {
        match part.get("type").and_then(Value::as_str) {
            // OpenAI `image_url`, Anthropic `image`, Responses `input_image`.
            Some("image_url" | "image" | "input_image") => self.add(self.image),
            Some("document") => self.document(&part["source"]),
            // OpenAI chat and Responses: `{"type":"file","file":{"file_data"|"file_id"}}`.
            Some("file" | "input_file") => {
                let file = part.get("file").unwrap_or(part);
                match file.get("file_data").and_then(Value::as_str) {
                    Some(data) => self.pdf(data.rsplit(',').next().unwrap_or(data)),
                    None => self.unbounded("a file given by id has no known size"),
                }
            }
            _ => return false,
        }
        true
    }

    /// An Anthropic document block's source.
    fn document(&mut self, source: &Value) {
        match source.get("type").and_then(Value::as_str) {
            Some("base64") => self.pdf(source["data"].as_str().unwrap_or("")),
            Some("text") => self.value(&source["data"]),
            Some("content") => self.value(&source["content"]),
            _ => self.unbounded("a document given by URL or file id has no known size"),
        }
    }

    /// A base64 PDF: its pages at their bound, else (pages not found) its bytes as text.
    fn pdf(&mut self, base64: &str) {
        use base64::Engine;
        let pages = base64::engine::general_purpose::STANDARD
            .decode(base64.trim())
            .map(|pdf| count_pages(&pdf))
            .unwrap_or(0);
        if pages > 0 {
            self.add((pages as i64).saturating_mul(PDF_PAGE_TOKENS));
        } else {
            self.add(text_bound(base64.as_bytes()));
        }
    }

    /// Tools: Anthropic's tool-use system prompt, and server tools at their bound.
    fn tools(&mut self, tools: &[Value]) {
        if tools.is_empty() {
            return;
        }
        self.add(TOOL_OVERHEAD_TOKENS);
        for tool in tools {
            let Some(kind) = tool.get("type").and_then(Value::as_str) else {
                continue;
            };
            let uses = tool.get("max_uses").and_then(Value::as_i64);
            if kind.starts_with("web_search_") {
                match uses {
                    Some(n) => self.add(n.clamp(0, 1000).saturating_mul(WEB_SEARCH_TOKENS)),
                    None => self.unbounded("web search without max_uses has no bound"),
                }
            } else if kind.starts_with("web_fetch_") {
                let content = tool.get("max_content_tokens").and_then(Value::as_i64);
                match (uses, content) {
                    (Some(n), Some(c)) => self.add(n.clamp(0, 1000).saturating_mul(c.max(0))),
                    _ => self.unbounded("web fetch needs max_uses and max_content_tokens"),
                }
            } else if kind.starts_with("code_execution_") || kind.starts_with("tool_search_") {
                self.unbounded("server-side code execution and tool search have no bound");
            } else if kind.starts_with("computer_")
                || kind.starts_with("bash_")
                || kind.starts_with("text_editor_")
                || kind.starts_with("memory_")
            {
                // Anthropic-defined client tools: their definitions, at most.
                self.add(TOOL_OVERHEAD_TOKENS);
            }
        }
    }
}

/// Page objects of a PDF (`/Type /Page`, not `/Pages`); 0 when they are not visible (in
/// compressed object streams).
fn count_pages(pdf: &[u8]) -> usize {
    let mut pages = 0;
    for marker in [&b"/Type /Page"[..], &b"/Type/Page"[..]] {
        for at in memchr::memmem::find_iter(pdf, marker) {
            let next = pdf.get(at + marker.len()).copied();
            if next != Some(b's') {
                pages += 1;
            }
        }
    }
    pages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_bounded_by_its_worst_class() {
        assert_eq!(text_bound(b"abcd"), 2, "letters: two a token");
        assert_eq!(text_bound(b"1234"), 4, "digits: one each");
        assert_eq!(text_bound(b"!?.;"), 4, "punctuation: one each");
        assert_eq!(text_bound(b"a b"), 2);
        assert_eq!(
            text_bound("你好".as_bytes()),
            4,
            "three-byte characters: two each"
        );
        assert_eq!(text_bound("é".as_bytes()), 1);
        assert_eq!(text_bound("😀".as_bytes()), 3);
        // Never below the old estimate (bytes / 4) for any text.
        for text in ["Hello there, gateway", "3.14159265358979", "Привет, мир"] {
            let old = crate::core::usage::TextEstimate::of_bytes(text.as_bytes()).tokens();
            assert!(text_bound(text.as_bytes()) >= old, "{text}");
        }
    }

    #[test]
    fn json_syntax_counts_nothing_but_its_strings_and_objects() {
        let body = br#"{"model":"m","messages":[{"role":"user","content":"a \"b\" c"}],"n":12}"#;
        // Keys at 4 bytes a token (model 2, messages 2, role 1, content 2, n 1: 16 halves);
        // values m 1, user 4 and the escaped `a \"b\" c` 13 (3 letters, 2 spaces, 2
        // backslashes, 2 quotes): 18 halves; two objects 12: 46 halves, 23 tokens.
        assert_eq!(json_bound(body), 23);
        let parsed = prompt_bound(
            br#"{"model":"m","tools":[],"messages":[{"role":"user","content":"a \"b\" c"}],"n":12}"#,
            "m",
        );
        let raw = json_bound(body);
        assert!(
            (raw..=raw + 2).contains(&parsed.tokens),
            "the walk agrees (+ `tools`, decoded strings rounded each): {} vs {raw}",
            parsed.tokens
        );
    }

    #[test]
    fn media_is_counted_at_its_bound() {
        let body = br#"{"model":"gpt-4o","messages":[{"role":"user","content":[
            {"type":"text","text":"What is this?"},
            {"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}]}"#;
        let b = prompt_bound(body, "gpt-4o");
        assert!(
            b.tokens >= IMAGE_TOKENS && b.tokens < IMAGE_TOKENS + 200,
            "{b:?}"
        );
        assert!(prompt_bound(body, "gpt-4o-mini").tokens >= IMAGE_TOKENS_4O_MINI);
        // The Responses API's shape.
        let body = br#"{"model":"gpt-4o","input":[{"role":"user","content":[
            {"type":"input_image","image_url":"https://example.com/a.png"}]}]}"#;
        assert!(prompt_bound(body, "gpt-4o").tokens >= IMAGE_TOKENS);
        // A huge base64 image costs its bound, not its bytes.
        let data = "A".repeat(1_000_000);
        let body = format!(
            r#"{{"model":"c","messages":[{{"role":"user","content":[{{"type":"image","source":{{"type":"base64","media_type":"image/png","data":"{data}"}}}}]}}]}}"#
        );
        assert!(prompt_bound(body.as_bytes(), "c").tokens < IMAGE_TOKENS + 100);
    }

    #[test]
    fn documents_by_page_and_unbounded_content_reported() {
        use base64::Engine;
        let pdf = b"%PDF-1.4 1 0 obj <</Type /Pages /Count 2>> 2 0 obj <</Type /Page>> 3 0 obj <</Type/Page /Parent 1 0 R>>";
        let data = base64::engine::general_purpose::STANDARD.encode(pdf);
        let body = format!(
            r#"{{"model":"c","messages":[{{"role":"user","content":[{{"type":"document","source":{{"type":"base64","media_type":"application/pdf","data":"{data}"}}}}]}}]}}"#
        );
        let b = prompt_bound(body.as_bytes(), "c");
        assert!(
            b.tokens >= 2 * PDF_PAGE_TOKENS && b.unbounded.is_none(),
            "{b:?}"
        );
        let url = br#"{"model":"c","messages":[{"role":"user","content":[{"type":"document","source":{"type":"url","url":"https://x/y.pdf"}}]}]}"#;
        assert!(prompt_bound(url, "c").unbounded.is_some());
        let search = br#"{"model":"c","tools":[{"type":"web_search_20250305","name":"web_search","max_uses":2}],"messages":[]}"#;
        let b = prompt_bound(search, "c");
        assert!(b.tokens >= 2 * WEB_SEARCH_TOKENS && b.unbounded.is_none());
        let open = br#"{"model":"c","tools":[{"type":"web_search_20250305","name":"web_search"}],"messages":[]}"#;
        assert!(prompt_bound(open, "c").unbounded.is_some());
        let code = br#"{"model":"c","tools":[{"type":"code_execution_20250825","name":"code_execution"}],"messages":[]}"#;
        assert!(prompt_bound(code, "c").unbounded.is_some());
        let mcp =
            br#"{"model":"c","mcp_servers":[{"type":"url","url":"https://m"}],"messages":[]}"#;
        assert!(prompt_bound(mcp, "c").unbounded.is_some());
    }
}
