//! The Anthropic adapter (`api_type = "anthropic"`): OpenAI-speaking clients reach Claude
//! through the Chat Completions ⇄ Messages translation in `dialect::chat_to_messages`.

use bytes::Bytes;

use super::{Adapter, Answer, ClientRequest, Endpoint, StreamTranslator, Target, UpstreamRequest};
use crate::dialect::anthropic::API_VERSION;
use crate::dialect::chat_to_messages::{self, MessagesToChatStream};
use crate::dialect::openai::ChatRequest;
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
        if endpoint != Endpoint::ChatCompletions {
            return Err(ApiError::invalid(
                "Anthropic providers serve chat completions only",
            ));
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

    fn response(&self, _: Endpoint, body: Bytes) -> Answer {
        match chat_to_messages::response(&body, now_secs()) {
            Ok((answer, usage)) => {
                let mut generated = crate::upstream::usage::TextEstimate::default();
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

    fn stream(&self, req: &ClientRequest, max_line: usize) -> Box<dyn StreamTranslator> {
        Box::new(MessagesToChatStream::new(
            req.wants_usage_chunk,
            now_secs(),
            max_line,
        ))
    }
}
