//! An upper bound of the prompt tokens an upstream will count for a request body, for
//! admission: a budget reserves it, so calls in flight together cannot overshoot however
//! their content tokenizes or however the JSON is written. Pure and linear in the body.
//!
//! The bound is computed on the body as the upstream reads it — decoded JSON, after
//! redirects and translation (the caller hands over the body of each leg) — never on the
//! raw bytes: escapes, whitespace and key order change nothing. Every string, number,
//! literal and key counts at **one token per byte** of its JSON text (no tokenizer, byte
//! level or with byte fallback, spends more than a token on a byte), strings and keys with
//! their quotes and escapes (an upstream that renders a schema into the prompt renders it
//! as JSON); every object, array, member and element adds `SYNTAX_TOKENS` (brackets,
//! separators — `a | b` in OpenAI's rendering of an `enum` — and a chat template's
//! per-message tokens).
//!
//! Media and tools whose cost is not their bytes are read from the parsed body (only bodies
//! that hold them pay for the parse — see `Meter`): each image at the largest cost of one
//! image for the model that serves the call, PDF documents per page however the file
//! writes its pages, the tool-use prompt an upstream adds, and server tools by their
//! limits. What cannot be bounded is reported, and budgeted tokens are refused it.

mod meter;
mod pdf;

use serde_json::{Map, Value};

use crate::core::endpoint::Dialect;
use crate::error::ApiError;
use crate::pricing::CacheAsk;
use meter::{escaped_len, plain_cost, Scan, ScanError};

/// Tokens of one image, at most: Anthropic ~1,600 (≤ 1.15 megapixels), OpenAI's tiled
/// models 1,445 at high detail, the patch-based ones up to ~3,800 (gpt-4.1-nano).
pub const IMAGE_TOKENS: i64 = 4_000;
/// gpt-4o-mini counts images ~33 times dearer in tokens (its per-token price is lower):
/// 2,833 + 8 tiles × 5,667.
pub const IMAGE_TOKENS_4O_MINI: i64 = 48_200;
/// Tokens of one PDF page: its text (up to ~3,000 for a dense page) and its image.
pub const PDF_PAGE_TOKENS: i64 = 5_000;
/// A tool-use system prompt (Anthropic's, OpenAI's function namespace) and an
/// Anthropic-defined tool's own definition (computer use ~735, text editor ~700, bash
/// ~245), at most.
pub const TOOL_OVERHEAD_TOKENS: i64 = 1_000;
/// What one web search adds to the context, at most (the gateway's assumption: results
/// are a handful of pages' excerpts).
pub const WEB_SEARCH_TOKENS: i64 = 25_000;
/// Tokens every object, array, member and element adds beyond its text.
pub const SYNTAX_TOKENS: u64 = 3;

/// The bound, and why there is none when there is not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PromptBound {
    pub tokens: i64,
    /// Content whose cost cannot be bounded (budgeted tokens are refused it).
    pub unbounded: Option<String>,
    /// The cache writes the request asks for (`cache_control`, a `ttl` of `1h`): its prompt
    /// is reserved at the dearest of them.
    pub cache: CacheAsk,
    /// Web searches the provider may run for it, at most (`max_uses`, `max_tool_calls`),
    /// each reserved at its per-use price.
    pub web_searches: i64,
    /// Web searches it runs whatever the answer says (OpenAI's search models search once
    /// a call with `web_search_options`, and bill it; their usage does not count it).
    pub searches_certain: i64,
}

impl PromptBound {
    /// The larger of two legs' bounds (the first reason kept).
    pub fn max(self, other: PromptBound) -> PromptBound {
        PromptBound {
            tokens: self.tokens.max(other.tokens),
            unbounded: self.unbounded.or(other.unbounded),
            cache: self.cache.max(other.cache),
            web_searches: self.web_searches.max(other.web_searches),
            searches_certain: self.searches_certain.max(other.searches_certain),
        }
    }
}

/// Tokens one image costs at most on `model` (the model that serves the call).
pub fn image_tokens(model: &str) -> i64 {
    if model.contains("4o-mini") {
        IMAGE_TOKENS_4O_MINI
    } else {
        IMAGE_TOKENS
    }
}

/// The worst-case tokens of text: one a byte.
pub fn text_bound(bytes: &[u8]) -> i64 {
    bytes.len() as i64
}

/// What the bound of one leg needs beyond its body.
#[derive(Debug, Clone, Copy)]
pub struct Reader {
    /// The dialect the upstream reads the body in.
    pub dialect: Dialect,
    /// One image's cost on the serving model (`image_tokens`).
    pub image_tokens: i64,
}

/// The bound of a body as the upstream of `reader` reads it. A body that names a key
/// which decides the price twice in one object is refused (upstreams disagree on which
/// counts); one that cannot be read as JSON is bounded by its bytes and has no bound for
/// budgets.
pub fn prompt_bound(body: &[u8], reader: Reader) -> Result<PromptBound, ApiError> {
    let Scan {
        tokens,
        marked,
        cache,
    } = match meter::scan(body) {
        Ok(scan) => scan,
        Err(ScanError::Duplicate(key)) => {
            return Err(ApiError::invalid(format!(
                "an object of the request names '{key}' twice; send it once"
            )))
        }
        Err(ScanError::Invalid) => {
            return Ok(PromptBound {
                tokens: text_bound(body),
                unbounded: Some("the request nests too deeply to be measured".into()),
                ..PromptBound::default()
            })
        }
    };
    if !marked {
        return Ok(PromptBound {
            tokens: tokens.min(i64::MAX as u64) as i64,
            cache,
            ..PromptBound::default()
        });
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?;
    Ok(PromptBound {
        cache,
        ..walked(&value, reader)
    })
}

fn walked(body: &Value, reader: Reader) -> PromptBound {
    let mut walk = Walk {
        reader,
        tokens: 0,
        unbounded: None,
        web_searches: 0,
        searches_certain: 0,
    };
    walk.value(body);
    if let Value::Object(top) = body {
        walk.top_level(top);
    }
    PromptBound {
        tokens: walk.tokens.min(i64::MAX as u64) as i64,
        unbounded: walk.unbounded,
        web_searches: walk.web_searches,
        searches_certain: walk.searches_certain,
        ..PromptBound::default()
    }
}

struct Walk {
    reader: Reader,
    tokens: u64,
    unbounded: Option<String>,
    web_searches: i64,
    searches_certain: i64,
}

impl Walk {
    fn add(&mut self, tokens: i64) {
        self.tokens = self.tokens.saturating_add(tokens.max(0) as u64);
    }

    fn unbounded(&mut self, why: impl Into<String>) {
        self.unbounded.get_or_insert_with(|| why.into());
    }

    /// Every node at its bytes, media at their cost.
    fn value(&mut self, v: &Value) {
        match v {
            Value::Array(items) => {
                self.tokens = self.tokens.saturating_add(SYNTAX_TOKENS);
                for item in items {
                    self.tokens = self.tokens.saturating_add(SYNTAX_TOKENS);
                    self.value(item);
                }
            }
            Value::Object(map) => {
                if self.media(map) {
                    return;
                }
                self.tokens = self.tokens.saturating_add(SYNTAX_TOKENS);
                for (key, item) in map {
                    let key_cost = escaped_len(key) + 3 + SYNTAX_TOKENS;
                    self.tokens = self.tokens.saturating_add(key_cost);
                    self.value(item);
                }
            }
            scalar => self.tokens = self.tokens.saturating_add(plain_cost(scalar)),
        }
    }

    /// A content part whose cost is not its bytes: counted here (true) at its bound.
    fn media(&mut self, part: &Map<String, Value>) -> bool {
        match part.get("type").and_then(Value::as_str) {
            // OpenAI `image_url`, Anthropic `image`, Responses `input_image`.
            Some("image_url" | "image" | "input_image") => self.add(self.reader.image_tokens),
            Some("document") => self.document(part.get("source").unwrap_or(&Value::Null)),
            // OpenAI chat `{"type":"file","file":{…}}`, Responses `input_file`.
            Some("file" | "input_file") => {
                let file = match part.get("file") {
                    Some(Value::Object(inner)) => inner,
                    _ => part,
                };
                match file.get("file_data").and_then(Value::as_str) {
                    Some(data) => self.file(data.rsplit(',').next().unwrap_or(data)),
                    None => self.unbounded("a file given by id or URL has no known size"),
                }
            }
            Some("item_reference") => self.unbounded(
                "input items by reference (item_reference) point at state the gateway \
                 cannot read; send the items themselves",
            ),
            _ => return false,
        }
        true
    }

    /// An Anthropic document block's source.
    fn document(&mut self, source: &Value) {
        match source.get("type").and_then(Value::as_str) {
            Some("base64") => self.file(source["data"].as_str().unwrap_or("")),
            Some("text" | "content") => self.value(source),
            _ => self.unbounded("a document given by URL or file id has no known size"),
        }
    }

    /// A base64 file: a PDF by its pages, a compressed document refused, other text at
    /// its decoded bytes.
    fn file(&mut self, base64: &str) {
        use base64::Engine;
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(base64.trim()) else {
            // Not base64: the upstream refuses it, or reads it as text.
            self.add(text_bound(base64.as_bytes()));
            return;
        };
        if bytes.starts_with(b"PK\x03\x04") {
            self.unbounded("a compressed document (zip, docx, …) has no known size");
        } else if pdf::is_pdf(&bytes) {
            match pdf::pages(&bytes) {
                Some(pages) => {
                    self.add((pages as i64).saturating_mul(PDF_PAGE_TOKENS));
                    // The text a page can hold is its content: never more than the file.
                    self.add(text_bound(&bytes).min(pages as i64 * PDF_PAGE_TOKENS));
                }
                None => self.unbounded("a PDF whose page objects cannot be read has no bound"),
            }
        } else {
            self.add(text_bound(&bytes));
        }
    }

    /// Tools, MCP servers and what a native pass-through would let the upstream do
    /// unmetered.
    fn top_level(&mut self, top: &Map<String, Value>) {
        if let Some(Value::Array(tools)) = top.get("tools") {
            let max_calls = top.get("max_tool_calls").and_then(Value::as_i64);
            self.tools(tools, max_calls);
        }
        if top
            .get("mcp_servers")
            .and_then(Value::as_array)
            .is_some_and(|s| !s.is_empty())
        {
            self.unbounded("MCP servers (mcp_servers) return content of no known size");
        }
        if self.reader.dialect == Dialect::Chat && top.contains_key("web_search_options") {
            self.searches_certain = 1;
            self.web_searches = self.web_searches.saturating_add(1);
        }
        if self.reader.dialect != Dialect::Responses {
            return;
        }
        if top.get("background").and_then(Value::as_bool) == Some(true) {
            self.unbounded(
                "background: true lets the upstream generate after the gateway's answer, \
                 unmetered",
            );
        }
        for (field, why) in [
            (
                "conversation",
                "conversation: a conversation stored upstream holds items of no known size",
            ),
            (
                "prompt",
                "prompt: a stored prompt template holds content of no known size",
            ),
        ] {
            if top.get(field).is_some_and(|v| !v.is_null()) {
                self.unbounded(why);
            }
        }
    }

    /// Tool-use prompt overhead, and provider-run tools at their bound.
    fn tools(&mut self, tools: &[Value], max_tool_calls: Option<i64>) {
        if tools.is_empty() {
            return;
        }
        self.add(TOOL_OVERHEAD_TOKENS);
        for tool in tools {
            let Some(kind) = tool.get("type").and_then(Value::as_str) else {
                continue;
            };
            let uses = tool.get("max_uses").and_then(Value::as_i64);
            match hosted(kind, self.reader.dialect) {
                Hosted::Client => {}
                Hosted::Defined => self.add(TOOL_OVERHEAD_TOKENS),
                Hosted::AnthropicSearch => match uses {
                    Some(n) => {
                        self.web_searches = self.web_searches.saturating_add(n.clamp(0, 1000));
                        self.add(n.clamp(0, 1000).saturating_mul(WEB_SEARCH_TOKENS))
                    }
                    None => self.unbounded("web search without max_uses has no bound"),
                },
                Hosted::AnthropicFetch => {
                    let content = tool.get("max_content_tokens").and_then(Value::as_i64);
                    match (uses, content) {
                        (Some(n), Some(c)) => self.add(n.clamp(0, 1000).saturating_mul(c.max(0))),
                        _ => self.unbounded("web fetch needs max_uses and max_content_tokens"),
                    }
                }
                Hosted::OpenAiSearch => match max_tool_calls {
                    Some(n) => {
                        self.web_searches = self.web_searches.saturating_add(n.clamp(0, 1000));
                        self.add(n.clamp(0, 1000).saturating_mul(WEB_SEARCH_TOKENS))
                    }
                    None => self.unbounded(format!(
                        "the hosted tool '{}' has no bound without max_tool_calls",
                        truncate_kind(kind)
                    )),
                },
                Hosted::Unbounded => self.unbounded(format!(
                    "the provider-run tool '{}' returns content of no known size",
                    truncate_kind(kind)
                )),
            }
        }
    }
}

fn truncate_kind(kind: &str) -> String {
    crate::core::text::truncate(kind, 64)
}

/// What a tool of a `type` costs beyond its definition.
#[derive(Debug, PartialEq, Eq)]
enum Hosted {
    /// Run by the client (functions, custom tools): its definition is its bytes.
    Client,
    /// Anthropic-defined client tools (computer use, bash, text editor, memory) and
    /// OpenAI's client-run built-ins (computer use, local shell): their definitions, at most.
    Defined,
    /// Anthropic's web search: `max_uses` searches.
    AnthropicSearch,
    /// Anthropic's web fetch: `max_uses` × `max_content_tokens`.
    AnthropicFetch,
    /// OpenAI's hosted web search: `max_tool_calls` searches.
    OpenAiSearch,
    /// Provider-run tools of no known size (code execution, tool search, file search,
    /// MCP, image generation, …).
    Unbounded,
}

fn hosted(kind: &str, dialect: Dialect) -> Hosted {
    if matches!(kind, "function" | "custom" | "namespace") {
        return Hosted::Client;
    }
    // Anthropic's tools are versioned `name_YYYYMMDD`; OpenAI's `name` or `name_YYYY_MM_DD`.
    if dialect == Dialect::Messages {
        if kind.starts_with("web_search_") {
            Hosted::AnthropicSearch
        } else if kind.starts_with("web_fetch_") {
            Hosted::AnthropicFetch
        } else if ["computer_", "bash_", "text_editor_", "memory_"]
            .iter()
            .any(|p| kind.starts_with(p))
        {
            Hosted::Defined
        } else {
            Hosted::Unbounded
        }
    } else if kind == "web_search" || kind.starts_with("web_search_") {
        Hosted::OpenAiSearch
    } else if matches!(
        kind,
        "computer_use_preview" | "computer_use" | "local_shell" | "shell" | "apply_patch"
    ) {
        Hosted::Defined
    } else {
        Hosted::Unbounded
    }
}

#[cfg(test)]
mod tests;
