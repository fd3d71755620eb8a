//! The OpenAI-compatible adapter, used by `openai`, `deepseek` and `zhipu` providers.

use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::usage::OpenAiUsage;
use super::{Adapter, ClientRequest, Endpoint, StreamTranslator, UpstreamRequest, Usage};
use crate::error::ApiError;

pub struct OpenAiAdapter;

impl OpenAiAdapter {
    /// The body to send: the client's bytes untouched unless the model name must change
    /// or a usage chunk must be requested for billing.
    fn body(req: &ClientRequest, upstream_model: &str) -> Result<Bytes, ApiError> {
        let ask_usage = req.stream && !req.wants_usage_chunk;
        if upstream_model == req.model && !ask_usage {
            return Ok(req.raw.clone());
        }
        let mut map: Map<String, Value> = serde_json::from_slice(&req.raw)
            .map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?;
        map.insert("model".into(), Value::String(upstream_model.to_string()));
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
        serde_json::to_vec(&map)
            .map(Bytes::from)
            .map_err(|e| ApiError::internal("cannot encode request", e))
    }
}

impl Adapter for OpenAiAdapter {
    fn request(
        &self,
        base_url: &str,
        key: &str,
        endpoint: Endpoint,
        req: &ClientRequest,
        upstream_model: &str,
    ) -> Result<UpstreamRequest, ApiError> {
        let path = match endpoint {
            Endpoint::ChatCompletions => "/chat/completions",
            Endpoint::Embeddings => "/embeddings",
        };
        Ok(UpstreamRequest {
            url: format!("{base_url}{path}"),
            headers: vec![("authorization", format!("Bearer {key}"))],
            body: Self::body(req, upstream_model)?,
        })
    }

    fn response(&self, _: Endpoint, body: Bytes) -> (Bytes, Option<Usage>) {
        #[derive(Deserialize)]
        struct WithUsage {
            usage: Option<OpenAiUsage>,
        }
        let usage = serde_json::from_slice::<WithUsage>(&body)
            .ok()
            .and_then(|b| b.usage)
            .map(Usage::from);
        (body, usage)
    }

    fn stream(&self, req: &ClientRequest) -> Box<dyn StreamTranslator> {
        Box::new(OpenAiStream::new(!req.wants_usage_chunk))
    }
}

/// Scans OpenAI SSE as it passes: reads usage and counts generated text; when the gateway
/// asked for the usage chunk on the client's behalf, removes it again.
pub struct OpenAiStream {
    strip_usage_chunk: bool,
    partial: Vec<u8>,
    usage: Option<Usage>,
    chars: usize,
    done: bool,
    skip_blank: bool,
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Option<Vec<ChunkChoice>>,
    #[serde(default)]
    usage: Option<OpenAiUsage>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Option<Delta>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
}

impl OpenAiStream {
    pub fn new(strip_usage_chunk: bool) -> OpenAiStream {
        OpenAiStream {
            strip_usage_chunk,
            partial: Vec::new(),
            usage: None,
            chars: 0,
            done: false,
            skip_blank: false,
        }
    }

    /// Reads one line (without its newline); false when it must not reach the client.
    fn scan_line(&mut self, line: &[u8]) -> bool {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
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
        let Ok(chunk) = serde_json::from_slice::<Chunk>(payload) else {
            return true;
        };
        for choice in chunk.choices.iter().flatten() {
            if let Some(delta) = &choice.delta {
                self.chars += delta.content.as_deref().map_or(0, |c| c.chars().count());
                self.chars += delta
                    .reasoning_content
                    .as_deref()
                    .map_or(0, |c| c.chars().count());
            }
        }
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage.into());
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
    fn feed(&mut self, chunk: &[u8], out: &mut BytesMut) {
        if !self.strip_usage_chunk {
            out.extend_from_slice(chunk);
        }
        let mut start = 0;
        while let Some(offset) = chunk[start..].iter().position(|&b| b == b'\n') {
            let end = start + offset + 1;
            let keep = if self.partial.is_empty() {
                self.scan_line(&chunk[start..end - 1])
            } else {
                self.partial.extend_from_slice(&chunk[start..end]);
                let line = std::mem::take(&mut self.partial);
                let keep = self.scan_line(&line[..line.len() - 1]);
                if keep && self.strip_usage_chunk {
                    out.extend_from_slice(&line);
                }
                start = end;
                continue;
            };
            if keep && self.strip_usage_chunk {
                out.extend_from_slice(&chunk[start..end]);
            }
            start = end;
        }
        self.partial.extend_from_slice(&chunk[start..]);
    }

    fn finish(&mut self, out: &mut BytesMut) {
        if self.partial.is_empty() {
            return;
        }
        let line = std::mem::take(&mut self.partial);
        let keep = self.scan_line(&line);
        if keep && self.strip_usage_chunk {
            out.extend_from_slice(&line);
        }
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn generated_chars(&self) -> usize {
        self.chars
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
        let mut s = OpenAiStream::new(strip);
        let mut out = BytesMut::new();
        for piece in STREAM.as_bytes().chunks(split_every) {
            s.feed(piece, &mut out);
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
            assert_eq!(s.generated_chars(), 5);
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

    fn request(raw: &str, stream: bool, wants: bool) -> ClientRequest {
        ClientRequest {
            raw: Bytes::from(raw.to_string()),
            model: "gpt-4o".into(),
            stream,
            wants_usage_chunk: wants,
            max_tokens: None,
        }
    }

    #[test]
    fn body_is_untouched_when_nothing_changes() {
        let raw = r#"{"model":"gpt-4o","messages":[],"x_custom":1}"#;
        let req = request(raw, false, false);
        assert_eq!(OpenAiAdapter::body(&req, "gpt-4o").unwrap(), raw.as_bytes());
    }

    #[test]
    fn body_rewrites_model_and_asks_for_usage() {
        let raw = r#"{"model":"gpt-4o","stream":true,"messages":[],"x_custom":1}"#;
        let req = request(raw, true, false);
        let body: Value =
            serde_json::from_slice(&OpenAiAdapter::body(&req, "gpt-4o-2024").unwrap()).unwrap();
        assert_eq!(body["model"], "gpt-4o-2024");
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert_eq!(body["x_custom"], 1, "unknown fields pass through");
    }
}
