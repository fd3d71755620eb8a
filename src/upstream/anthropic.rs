//! The Anthropic adapter (`api_type = "anthropic"`): OpenAI-speaking clients reach Claude
//! through the Chat Completions ⇄ Messages translation in `dialect::chat_to_messages`.

use bytes::{Bytes, BytesMut};

use super::{Adapter, Answer, ClientRequest, Target, UpstreamRequest};
use crate::core::endpoint::Endpoint;
use crate::core::stream::StreamTranslator;
use crate::core::usage::TextEstimate;
use crate::dialect::anthropic::{
    AnthropicUsage, Block, Delta, MessagesResponse, StreamEvent, API_VERSION,
};
use crate::dialect::chat_to_messages::{self, MessagesToChatStream};
use crate::dialect::openai::ChatRequest;
use crate::dialect::sse::{DataEvents, SseLines};
use crate::error::ApiError;

/// `max_tokens` sent when neither the client, the budget nor the price book names one
/// (Anthropic requires it).
pub const DEFAULT_MAX_TOKENS: i64 = 4096;

pub struct AnthropicAdapter;

fn now_secs() -> i64 {
    crate::time::now_ms() / 1000
}

impl Adapter for AnthropicAdapter {
    fn request(
        &self,
        target: &Target<'_>,
        endpoint: Endpoint,
        req: &ClientRequest,
    ) -> Result<UpstreamRequest, ApiError> {
        match endpoint {
            Endpoint::ChatCompletions => {}
            Endpoint::Messages => return pass_through(target, req, "/messages"),
            Endpoint::CountTokens => return pass_through(target, req, "/messages/count_tokens"),
            Endpoint::Embeddings => {
                return Err(ApiError::invalid(
                    "Anthropic providers do not serve embeddings",
                ))
            }
        }
        if req.n > 1 {
            return Err(ApiError::invalid_param(
                "n",
                "Anthropic models answer one choice at a time (n must be 1)",
            ));
        }
        let chat: ChatRequest = serde_json::from_slice(&req.raw)
            .map_err(|e| ApiError::invalid(format!("invalid chat request: {e}")))?;
        let max_tokens = target
            .completion_cap
            .or(req.client_cap)
            .or(target.max_output)
            .unwrap_or(DEFAULT_MAX_TOKENS);
        let body = chat_to_messages::request(&chat, target.model, max_tokens, req.stream)?;
        let body = serde_json::to_vec(&body)
            .map(Bytes::from)
            .map_err(|e| ApiError::internal("cannot encode request", e))?;
        Ok(UpstreamRequest {
            url: format!("{}/messages", target.base_url),
            headers: vec![
                ("x-api-key", target.key.to_string()),
                ("anthropic-version", API_VERSION.to_string()),
            ],
            body,
        })
    }

    fn response(&self, endpoint: Endpoint, body: Bytes) -> Answer {
        match endpoint {
            Endpoint::Messages => return native_answer(body),
            // Counting generates nothing and costs nothing.
            Endpoint::CountTokens => {
                return Answer {
                    body,
                    usage: Some(crate::core::usage::Usage::default()),
                    generated: 0,
                }
            }
            _ => {}
        }
        match chat_to_messages::response(&body, now_secs()) {
            Ok((answer, usage)) => {
                let mut generated = TextEstimate::default();
                for choice in &answer.choices {
                    if let Some(text) = &choice.message.content {
                        generated.add(text);
                    }
                    for call in &choice.message.tool_calls {
                        generated.add(&call.function.arguments);
                    }
                }
                Answer {
                    body: serde_json::to_vec(&answer).map(Bytes::from).unwrap_or(body),
                    usage,
                    generated: generated.tokens(),
                }
            }
            Err(e) => {
                log::warn!("{e}");
                Answer {
                    body,
                    usage: None,
                    generated: 0,
                }
            }
        }
    }

    fn stream(
        &self,
        endpoint: Endpoint,
        req: &ClientRequest,
        max_line: usize,
    ) -> Box<dyn StreamTranslator> {
        match endpoint {
            Endpoint::Messages | Endpoint::CountTokens => {
                Box::new(MessagesPassStream::new(max_line))
            }
            _ => Box::new(MessagesToChatStream::new(
                req.wants_usage_chunk,
                now_secs(),
                max_line,
            )),
        }
    }
}

/// An Anthropic client's request to an Anthropic upstream: the client's bytes, with the
/// model name and the budget's cap changed only when they must be, and the client's
/// `anthropic-version` / `anthropic-beta` headers.
fn pass_through(
    target: &Target<'_>,
    req: &ClientRequest,
    path: &str,
) -> Result<UpstreamRequest, ApiError> {
    // A budget's cap replaces the client's `max_tokens` only when it is lower.
    let cap = target
        .completion_cap
        .filter(|cap| req.client_cap != Some(*cap));
    let thinking = cap.is_some() && mentions(&req.raw, b"\"budget_tokens\"");
    let body = if target.model == req.model && cap.is_none() {
        req.raw.clone()
    } else {
        let mut map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&req.raw)
            .map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?;
        map.insert("model".into(), target.model.into());
        if let Some(cap) = cap {
            map.insert("max_tokens".into(), cap.into());
            if thinking {
                fit_thinking(&mut map, cap);
            }
        }
        serde_json::to_vec(&map)
            .map(Bytes::from)
            .map_err(|e| ApiError::internal("cannot encode request", e))?
    };
    let mut headers = vec![("x-api-key", target.key.to_string())];
    let version = req
        .forwarded_headers
        .iter()
        .find(|(name, _)| *name == "anthropic-version")
        .map_or(API_VERSION.to_string(), |(_, v)| v.clone());
    headers.push(("anthropic-version", version));
    headers.extend(
        req.forwarded_headers
            .iter()
            .filter(|(name, _)| *name == "anthropic-beta")
            .cloned(),
    );
    Ok(UpstreamRequest {
        url: format!("{}{path}", target.base_url),
        headers,
        body,
    })
}

fn mentions(raw: &[u8], field: &[u8]) -> bool {
    raw.windows(field.len()).any(|w| w == field)
}

/// Smallest thinking budget Anthropic accepts.
const MIN_THINKING_BUDGET: i64 = 1024;

/// Keeps `thinking.budget_tokens` below a lowered `max_tokens` (Anthropic refuses a budget
/// at or above it): lowered to `cap - 1`, or thinking dropped when that leaves less than
/// the smallest budget Anthropic accepts.
pub fn fit_thinking(map: &mut serde_json::Map<String, serde_json::Value>, cap: i64) {
    let budget = map
        .get("thinking")
        .and_then(|t| t.get("budget_tokens"))
        .and_then(serde_json::Value::as_i64);
    match budget {
        Some(b) if b >= cap && cap > MIN_THINKING_BUDGET => {
            map["thinking"]["budget_tokens"] = (cap - 1).into();
        }
        Some(b) if b >= cap => {
            map.remove("thinking");
        }
        _ => {}
    }
}

/// A native Messages answer, passed on as it is; its usage read.
fn native_answer(body: Bytes) -> Answer {
    match serde_json::from_slice::<MessagesResponse>(&body) {
        Ok(answer) => {
            let mut generated = TextEstimate::default();
            for block in &answer.content {
                match block {
                    Block::Text { text } => generated.add(text),
                    Block::Thinking { thinking } => generated.add(thinking),
                    Block::ToolUse { input, .. } => generated.add(&input.to_string()),
                    Block::Other => {}
                }
            }
            Answer {
                usage: answer.usage.map(|u| u.to_usage()),
                generated: generated.tokens(),
                body,
            }
        }
        Err(_) => Answer {
            body,
            usage: None,
            generated: 0,
        },
    }
}

/// Relays an Anthropic event stream untouched, reading its usage and end as it passes.
pub struct MessagesPassStream {
    lines: SseLines,
    usage: Option<AnthropicUsage>,
    generated: TextEstimate,
    done: bool,
    failed: bool,
}

impl MessagesPassStream {
    pub fn new(max_line: usize) -> MessagesPassStream {
        MessagesPassStream {
            lines: SseLines::new(max_line),
            usage: None,
            generated: TextEstimate::default(),
            done: false,
            failed: false,
        }
    }

    fn event(&mut self, payload: &[u8]) {
        match serde_json::from_slice::<StreamEvent>(payload) {
            Ok(StreamEvent::MessageStart { message }) => self.usage = message.usage,
            Ok(StreamEvent::ContentBlockDelta { delta, .. }) => match delta {
                Delta::TextDelta { text } => self.generated.add(&text),
                Delta::ThinkingDelta { thinking } => self.generated.add(&thinking),
                Delta::InputJsonDelta { partial_json } => self.generated.add(&partial_json),
                Delta::Other => {}
            },
            Ok(StreamEvent::MessageDelta { usage: Some(u), .. }) => {
                let mut merged = self.usage.unwrap_or_default();
                merged.output_tokens = u.output_tokens;
                if u.input_tokens > 0 {
                    merged.input_tokens = u.input_tokens;
                }
                self.usage = Some(merged);
            }
            Ok(StreamEvent::MessageStop) => self.done = true,
            Ok(StreamEvent::Error { .. }) => self.failed = true,
            _ => {}
        }
    }
}

impl DataEvents for MessagesPassStream {
    fn lines(&mut self) -> &mut SseLines {
        &mut self.lines
    }

    /// Reads usage and the end; the bytes themselves were relayed as they came.
    fn on_data(&mut self, data: &[u8], _: &mut BytesMut) {
        self.event(data);
    }
}

impl StreamTranslator for MessagesPassStream {
    fn feed(&mut self, chunk: &[u8], out: &mut BytesMut) -> Result<(), String> {
        out.extend_from_slice(chunk);
        self.read(chunk, &mut BytesMut::new())
    }

    fn finish(&mut self, out: &mut BytesMut) {
        self.read_rest(out);
    }

    fn usage(&self) -> Option<crate::core::usage::Usage> {
        self.usage.map(|u| u.to_usage())
    }

    fn generated_tokens(&self) -> i64 {
        self.generated.tokens()
    }

    fn completed(&self) -> bool {
        self.done && !self.failed
    }
}
