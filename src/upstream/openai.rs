//! The OpenAI-compatible adapter, used by `openai`, `deepseek` and `zhipu` providers.

use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Adapter, Answer, ClientRequest, Target, UpstreamRequest};
use crate::core::endpoint::Endpoint;
use crate::core::stream::StreamTranslator;
use crate::core::usage::{OpenAiUsage, TextEstimate, Usage};
use crate::dialect::openai::upstream::{self as chat, ChunkReader};
use crate::dialect::openai::{CapField, ChunkIn};
use crate::dialect::responses::upstream::{generated_of, usage_of, ResponseEventReader};
use crate::dialect::sse::{trim_eol, SseLines};
use crate::dialect::translate::{PassThrough, Translation};
use crate::error::ApiError;

pub struct OpenAiAdapter {
    /// The field a completion cap goes into when the client sent none.
    cap_field: CapField,
    /// Zhipu's differences: sampling bounds, usage always in the last chunk.
    zhipu: bool,
}

/// OpenAI itself: `max_tokens` is deprecated there and refused by reasoning models.
pub const OPENAI: OpenAiAdapter = OpenAiAdapter {
    cap_field: CapField::MaxCompletionTokens,
    zhipu: false,
};
/// DeepSeek reads `max_tokens` only.
pub const DEEPSEEK: OpenAiAdapter = OpenAiAdapter {
    cap_field: CapField::MaxTokens,
    zhipu: false,
};
/// Zhipu (GLM) reads `max_tokens`, refuses `temperature` 0 and `top_p` 1 on many models, and
/// reports usage in its last chunk without `stream_options`.
pub const ZHIPU: OpenAiAdapter = OpenAiAdapter {
    cap_field: CapField::MaxTokens,
    zhipu: true,
};

/// Zhipu's sampling bounds: `temperature` in (0, 1] (0 means greedy: `do_sample: false`),
/// `top_p` in [0.01, 0.99].
fn zhipu_sampling(map: &mut Map<String, Value>) {
    if let Some(t) = map.get("temperature").and_then(Value::as_f64) {
        if t <= 0.0 {
            map.remove("temperature");
            map.insert("do_sample".into(), Value::Bool(false));
        } else if t > 1.0 {
            map.insert("temperature".into(), Value::from(1.0));
        }
    }
    if let Some(p) = map.get("top_p").and_then(Value::as_f64) {
        map.insert("top_p".into(), Value::from(p.clamp(0.01, 0.99)));
    }
}

fn mentions(raw: &[u8], field: &[u8]) -> bool {
    raw.windows(field.len()).any(|w| w == field)
}

impl OpenAiAdapter {
    /// The body to send: the client's bytes untouched unless the model name must change,
    /// a usage chunk must be requested for billing, or the budget caps the completion.
    fn body(&self, req: &ClientRequest, target: &Target<'_>) -> Result<Bytes, ApiError> {
        let ask_usage = req.stream && !req.wants_usage_chunk && !self.zhipu;
        let sampling = self.zhipu
            && (mentions(&req.raw, b"\"temperature\"") || mentions(&req.raw, b"\"top_p\""));
        // A budget's cap is written unless the client's own field already says it.
        let cap = target
            .completion_cap
            .filter(|cap| !self.client_cap_honoured(req, *cap));
        if target.model == req.model && !ask_usage && !sampling && cap.is_none() {
            return Ok(req.raw.clone());
        }
        let mut map: Map<String, Value> = serde_json::from_slice(&req.raw)
            .map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?;
        map.insert("model".into(), Value::String(target.model.to_string()));
        if sampling {
            zhipu_sampling(&mut map);
        }
        if ask_usage {
            let options = map
                .entry("stream_options")
                .or_insert_with(|| Value::Object(Map::new()));
            if !options.is_object() {
                *options = Value::Object(Map::new());
            }
            options
                .as_object_mut()
                .expect("just made an object")
                .insert("include_usage".into(), Value::Bool(true));
        }
        if let Some(cap) = cap {
            if self.cap_field == CapField::MaxTokens {
                // DeepSeek and Zhipu read `max_tokens` only.
                map.remove("max_completion_tokens");
                map.insert("max_tokens".into(), Value::from(cap));
            } else {
                let mut fields = Vec::with_capacity(2);
                if req.sent_max_tokens {
                    fields.push("max_tokens");
                }
                if req.sent_max_completion_tokens {
                    fields.push("max_completion_tokens");
                }
                if fields.is_empty() {
                    fields.push("max_completion_tokens");
                }
                for field in fields {
                    map.insert(field.into(), Value::from(cap));
                }
            }
        }
        serde_json::to_vec(&map)
            .map(Bytes::from)
            .map_err(|e| ApiError::internal("cannot encode request", e))
    }
}

impl OpenAiAdapter {
    /// Whether the client's own cap field already carries `cap` where this upstream reads
    /// it (OpenAI honours either field; DeepSeek and Zhipu `max_tokens` only).
    fn client_cap_honoured(&self, req: &ClientRequest, cap: i64) -> bool {
        req.client_cap == Some(cap)
            && (self.cap_field != CapField::MaxTokens
                || (req.sent_max_tokens && !req.sent_max_completion_tokens))
    }

    /// Another dialect's request (an Anthropic client) as a Chat Completions body.
    fn translate(
        &self,
        endpoint: Endpoint,
        req: &ClientRequest,
        target: &Target<'_>,
    ) -> Result<Bytes, ApiError> {
        let call = req.core_request(endpoint)?;
        let shape = chat::Target {
            model: target.model,
            max_tokens: target
                .completion_cap
                .or(req.client_cap)
                .or(call.max_output_tokens),
            cap_field: self.cap_field,
            stream: req.stream,
        };
        let mut body = serde_json::to_value(chat::encode_request(&call, &shape)?)
            .map_err(|e| ApiError::internal("cannot encode request", e))?;
        if let Some(map) = body.as_object_mut().filter(|_| self.zhipu) {
            zhipu_sampling(map);
            map.remove("stream_options");
        }
        Ok(Bytes::from(body.to_string()))
    }
}

impl Adapter for OpenAiAdapter {
    fn request(
        &self,
        target: &Target<'_>,
        endpoint: Endpoint,
        req: &ClientRequest,
    ) -> Result<UpstreamRequest, ApiError> {
        let (path, body) = match endpoint {
            Endpoint::ChatCompletions => ("/chat/completions", self.body(req, target)?),
            Endpoint::Embeddings => ("/embeddings", self.body(req, target)?),
            Endpoint::Messages => ("/chat/completions", self.translate(endpoint, req, target)?),
            Endpoint::Responses if target.native_responses => {
                ("/responses", native_responses_body(req, target)?)
            }
            Endpoint::Responses => ("/chat/completions", self.translate(endpoint, req, target)?),
            Endpoint::CountTokens => {
                return Err(ApiError::invalid(
                    "OpenAI-type providers do not count tokens (estimated locally)",
                ))
            }
        };
        Ok(UpstreamRequest {
            url: format!("{}{path}", target.base_url),
            headers: vec![("authorization", format!("Bearer {}", target.key))],
            body,
        })
    }

    fn response(&self, endpoint: Endpoint, req: &ClientRequest, body: Bytes) -> Answer {
        if endpoint == Endpoint::Responses {
            if let Some(answer) = native_responses_answer(&body, req) {
                return answer;
            }
        }
        if matches!(endpoint, Endpoint::Messages | Endpoint::Responses) {
            return match chat::decode_reply(&body) {
                Ok(reply) => Answer::translated(endpoint, req, &reply),
                Err(e) => {
                    log::warn!("{e}");
                    Answer::relayed(body, None, 0)
                }
            };
        }
        #[derive(Deserialize)]
        struct WithUsage {
            usage: Option<OpenAiUsage>,
            #[serde(default)]
            service_tier: Option<String>,
        }
        let usage = serde_json::from_slice::<WithUsage>(&body)
            .ok()
            .and_then(|b| b.usage.map(|u| u.billed(b.service_tier.as_deref())));
        let mut generated = TextEstimate::default();
        if usage.is_none() && endpoint == Endpoint::ChatCompletions {
            if let Ok(answer) = serde_json::from_slice::<ChunkIn>(&body) {
                for message in answer
                    .choices
                    .iter()
                    .flatten()
                    .filter_map(|c| c.message.as_ref())
                {
                    message.estimate(&mut generated);
                }
            }
        }
        Answer::relayed(body, usage, generated.tokens())
    }

    fn stream(
        &self,
        target: &Target<'_>,
        endpoint: Endpoint,
        req: &ClientRequest,
        max_line: usize,
    ) -> Box<dyn StreamTranslator> {
        match endpoint {
            Endpoint::Responses if target.native_responses => {
                Box::new(PassThrough::new(ResponseEventReader::default(), max_line))
            }
            Endpoint::Messages | Endpoint::Responses => Box::new(Translation::new(
                ChunkReader::default(),
                crate::dialect::event_writer(req.client(endpoint), crate::time::now_ms() / 1000),
                max_line,
            )),
            _ => Box::new(OpenAiStream::new(!req.wants_usage_chunk, max_line)),
        }
    }
}

/// A Responses request to a provider that speaks it: the client's bytes, with the model
/// name and the budget's cap (`max_output_tokens`) changed only when they must be.
fn native_responses_body(req: &ClientRequest, target: &Target<'_>) -> Result<Bytes, ApiError> {
    let cap = target
        .completion_cap
        .filter(|cap| req.client_cap != Some(*cap));
    if target.model == req.model && cap.is_none() {
        return Ok(req.raw.clone());
    }
    let mut map: Map<String, Value> = serde_json::from_slice(&req.raw)
        .map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?;
    map.insert("model".into(), Value::String(target.model.to_string()));
    if let Some(cap) = cap {
        map.insert("max_output_tokens".into(), Value::from(cap));
    }
    serde_json::to_vec(&map)
        .map(Bytes::from)
        .map_err(|e| ApiError::internal("cannot encode request", e))
}

/// A native response object, passed on as it is — but for the `previous_response_id` the
/// gateway resolved into items before sending, which it names again; its usage read
/// (`None`: not a response object).
fn native_responses_answer(body: &Bytes, req: &ClientRequest) -> Option<Answer> {
    let mut object: Value = serde_json::from_slice(body).ok()?;
    if object["object"] != "response" {
        return None;
    }
    let previous = req
        .responses
        .as_ref()
        .and_then(|ctx| ctx.previous_response_id.clone());
    let body = match previous {
        Some(id) => {
            object["previous_response_id"] = Value::String(id);
            Bytes::from(object.to_string())
        }
        None => body.clone(),
    };
    Some(Answer {
        usage: usage_of(&object),
        generated: generated_of(&object),
        body,
        outcome: Some(object),
    })
}

/// Scans OpenAI SSE as it passes: reads usage and counts generated text; when the gateway
/// asked for the usage chunk on the client's behalf, removes it again.
pub struct OpenAiStream {
    strip_usage_chunk: bool,
    lines: SseLines,
    usage: Option<Usage>,
    generated: TextEstimate,
    done: bool,
    skip_blank: bool,
}

impl OpenAiStream {
    pub fn new(strip_usage_chunk: bool, max_line: usize) -> OpenAiStream {
        OpenAiStream {
            strip_usage_chunk,
            lines: SseLines::new(max_line),
            usage: None,
            generated: TextEstimate::default(),
            done: false,
            skip_blank: false,
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

impl StreamTranslator for OpenAiStream {
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

    fn run(strip: bool, split_every: usize) -> (String, OpenAiStream) {
        let mut s = OpenAiStream::new(strip, 1 << 20);
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
        let mut s = OpenAiStream::new(false, 1024);
        let mut out = BytesMut::new();
        let piece = [b'x'; 300];
        assert!(s.feed(b"data: ", &mut out).is_ok());
        let results: Vec<bool> = (0..4).map(|_| s.feed(&piece, &mut out).is_ok()).collect();
        assert_eq!(results, vec![true, true, true, false]);
        assert!(s.lines.finish().is_none(), "the buffered line was dropped");
    }

    #[test]
    fn estimates_tool_calls_refusals_and_wide_text() {
        let mut s = OpenAiStream::new(false, 1 << 20);
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

    fn request(raw: &str, stream: bool, wants: bool) -> ClientRequest {
        ClientRequest {
            raw: Bytes::from(raw.to_string()),
            model: "gpt-4o".into(),
            stream,
            wants_usage_chunk: wants,
            n: 1,
            ..ClientRequest::default()
        }
    }

    fn target(model: &str, cap: Option<i64>) -> Target<'_> {
        Target {
            base_url: "http://x",
            key: "k",
            model,
            completion_cap: cap,
            max_output: None,
            native_responses: false,
        }
    }

    #[test]
    fn body_is_untouched_when_nothing_changes() {
        let raw = r#"{"model":"gpt-4o","messages":[],"x_custom":1}"#;
        let req = request(raw, false, false);
        assert_eq!(
            OPENAI.body(&req, &target("gpt-4o", None)).unwrap(),
            raw.as_bytes()
        );
    }

    #[test]
    fn body_rewrites_model_and_asks_for_usage() {
        let raw = r#"{"model":"gpt-4o","stream":true,"messages":[],"x_custom":1}"#;
        let req = request(raw, true, false);
        let body: Value =
            serde_json::from_slice(&OPENAI.body(&req, &target("gpt-4o-2024", None)).unwrap())
                .unwrap();
        assert_eq!(body["model"], "gpt-4o-2024");
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert_eq!(body["x_custom"], 1, "unknown fields pass through");
    }

    #[test]
    fn the_cap_goes_into_the_fields_the_upstream_reads() {
        let send = |adapter: &OpenAiAdapter, req: &ClientRequest| -> Value {
            serde_json::from_slice(&adapter.body(req, &target("gpt-4o", Some(7))).unwrap()).unwrap()
        };
        let mut req = request(r#"{"model":"gpt-4o","messages":[]}"#, false, false);
        let body = send(&OPENAI, &req);
        assert_eq!(body["max_completion_tokens"], 7);
        assert!(body.get("max_tokens").is_none());
        let body = send(&DEEPSEEK, &req);
        assert_eq!(body["max_tokens"], 7);
        req.raw = Bytes::from_static(
            br#"{"model":"gpt-4o","messages":[],"max_tokens":9,"max_completion_tokens":99}"#,
        );
        req.sent_max_tokens = true;
        req.sent_max_completion_tokens = true;
        let body = send(&OPENAI, &req);
        assert_eq!(
            (
                body["max_tokens"].as_i64(),
                body["max_completion_tokens"].as_i64()
            ),
            (Some(7), Some(7))
        );
    }

    #[test]
    fn zhipu_gets_its_sampling_bounds_and_no_stream_options() {
        let send = |raw: &'static str, stream: bool| -> Value {
            let req = request(raw, stream, false);
            serde_json::from_slice(&ZHIPU.body(&req, &target("gpt-4o", None)).unwrap()).unwrap()
        };
        let body = send(
            r#"{"model":"gpt-4o","messages":[],"temperature":0,"top_p":1}"#,
            false,
        );
        assert!(body.get("temperature").is_none(), "{body}");
        assert_eq!(body["do_sample"], false);
        assert_eq!(body["top_p"], 0.99);
        let body = send(
            r#"{"model":"gpt-4o","messages":[],"temperature":1.8}"#,
            false,
        );
        assert_eq!(body["temperature"], 1.0);
        let raw = r#"{"model":"gpt-4o","stream":true,"messages":[]}"#;
        let req = request(raw, true, false);
        assert_eq!(
            ZHIPU.body(&req, &target("gpt-4o", None)).unwrap(),
            raw.as_bytes(),
            "no stream_options for Zhipu: its last chunk carries usage"
        );
        let body = send(
            r#"{"model":"gpt-4o","messages":[],"temperature":0.5}"#,
            false,
        );
        assert_eq!(body["temperature"], 0.5, "in range: unchanged");
    }

    #[test]
    fn answers_without_usage_are_estimated() {
        let body = Bytes::from_static(
            br#"{"choices":[{"message":{"content":"abcdefgh","tool_calls":[{"function":{"name":"f","arguments":"{\"a\":1}"}}]}}]}"#,
        );
        let answer = OPENAI.response(Endpoint::ChatCompletions, &ClientRequest::default(), body);
        assert!(answer.usage.is_none());
        assert_eq!(answer.generated, 4, "16 ASCII characters");
    }
}
