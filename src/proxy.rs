//! The attempt loop: choose a provider and key, call the upstream, fail over on connection
//! errors, first-byte timeouts, 429 and 5xx — never after a byte has reached the client.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use bytes::{Bytes, BytesMut};
use futures::Stream;
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body, Incoming};
use tokio::time::timeout;

use crate::call::CallRecord;
use crate::core::endpoint::Dialect;
use crate::core::endpoint::Endpoint;
use crate::core::stream::StreamTranslator;
use crate::core::text::truncate;
use crate::error::ApiError;
use crate::routing::keys::{KeyOutcome, PickedKey};
use crate::routing::table::{Candidate, Route};
use crate::state::AppState;
use crate::upstream::client::{error_chain, SendError, UpstreamClient};
use crate::upstream::{adapter_for, ClientRequest, Target};

/// Why an attempt failed, and whether another may follow.
enum Failure {
    /// Try the next key or provider.
    Retry(ApiError),
    /// Final: answer the client with this.
    Final(ApiError),
}

/// Proxies one call. Logs it when it succeeds (for streams, when the stream ends); the caller
/// logs failures.
pub async fn forward(
    state: &AppState,
    client: &UpstreamClient,
    rec: &mut Option<CallRecord>,
    endpoint: Endpoint,
    req: ClientRequest,
    route: Route,
) -> Result<HttpResponse, ApiError> {
    let settings = &state.settings;
    let max_attempts = settings.routing.max_attempts;
    let first_byte = Duration::from_secs(settings.upstream.first_byte_timeout_secs);
    let whole_call = Duration::from_secs(settings.upstream.request_timeout_secs);
    let deadline = Instant::now() + whole_call;

    let mut candidates: Vec<Candidate> = route.candidates;
    // Candidates left without a usable key (their cool-downs make the `Retry-After`).
    let mut tried_candidates: Vec<Candidate> = Vec::new();
    let mut tried: HashMap<i32, Vec<i32>> = HashMap::new();
    let mut attempts = 0u32;
    let mut next = 0usize;
    let mut last_error: Option<ApiError> = None;

    let mut probed = false;
    while attempts < max_attempts {
        let (idx, candidate, key) = if !candidates.is_empty() {
            let idx = next % candidates.len();
            let candidate = candidates[idx].clone();
            let exclude = tried
                .get(&candidate.provider.record.id)
                .cloned()
                .unwrap_or_default();
            let Some(key) = candidate.keys.pick(&exclude) else {
                tried_candidates.push(candidates.remove(idx));
                continue;
            };
            (idx, candidate, key)
        } else if attempts == 0 && !probed {
            // No key of any candidate is usable: the soonest to recover gets one probe.
            probed = true;
            match recovery_probe(&tried_candidates, &tried) {
                Some((candidate, key)) => (0, candidate, key),
                None => break,
            }
        } else {
            break;
        };
        let provider_id = candidate.provider.record.id;
        attempts += 1;
        tried.entry(provider_id).or_default().push(key.id);
        if let Some(r) = rec.as_mut() {
            r.first_attempt.get_or_insert_with(Instant::now);
            let e = &mut r.entry;
            e.attempts = attempts;
            e.provider = Some(candidate.provider.record.name.clone());
            e.model = Some(candidate.upstream_model.clone());
            e.key_id = Some(key.id);
            r.model_listed = candidate.listed;
        }
        match attempt(
            state, client, rec, endpoint, &req, &candidate, &key, first_byte, deadline,
        )
        .await
        {
            Ok(response) => return Ok(response),
            Err(Failure::Final(err)) => return Err(err),
            Err(Failure::Retry(err)) => {
                let id = rec.as_ref().map_or("", |r| r.entry.request_id.as_str());
                log::warn!(
                    "{id} attempt {attempts} on provider {} key {} failed: {err}",
                    candidate.provider.record.name,
                    key.id
                );
                last_error = Some(err);
                next = idx + 1;
            }
        }
    }
    let cooling = candidates
        .iter()
        .chain(tried_candidates.iter())
        .filter_map(|c| c.keys.retry_after_secs())
        .min();
    Err(match (last_error, cooling) {
        (None, Some(retry_after_secs)) => ApiError::Cooling {
            message: format!(
                "no usable key for model '{}': every key is cooling down (one probe call at a \
                 time, at most one a second, checks whether the upstream has recovered)",
                route.model
            ),
            retry_after_secs,
        },
        (None, None) => ApiError::NoUpstream(format!(
            "no usable key for model '{}': every key is disabled or cooling down",
            route.model
        )),
        (Some(ApiError::UpstreamTimeout(m)), _) => ApiError::UpstreamTimeout(format!(
            "upstream timed out on every attempt ({attempts}): {m}"
        )),
        (Some(err), _) => ApiError::UpstreamFailed(format!(
            "upstream failed on every attempt ({attempts}): {}",
            err.message()
        )),
    })
}

#[allow(clippy::too_many_arguments)]
async fn attempt(
    state: &AppState,
    client: &UpstreamClient,
    rec: &mut Option<CallRecord>,
    endpoint: Endpoint,
    req: &ClientRequest,
    candidate: &Candidate,
    key: &PickedKey,
    first_byte: Duration,
    deadline: Instant,
) -> Result<HttpResponse, Failure> {
    let provider = &candidate.provider.record;
    let adapter = adapter_for(provider.api_type);
    let target = Target {
        base_url: &provider.base_url,
        key: &key.secret,
        model: &candidate.upstream_model,
        completion_cap: req.cap_for(
            candidate.max_output,
            state.settings.accounting.default_completion_tokens,
        ),
        max_output: candidate.max_output,
    };
    let up = adapter
        .request(&target, endpoint, req)
        .map_err(Failure::Final)?;
    let keys = &candidate.keys;
    // The first-byte timeout is for streams, whose headers come at once; a whole answer's
    // headers come when it is generated, so it waits for the whole call's deadline.
    let left = deadline.saturating_duration_since(Instant::now());
    let wait = if req.stream {
        first_byte.min(left)
    } else {
        left
    };
    let sent = Instant::now();
    let answer = timeout(wait, client.post(&up.url, &up.headers, up.body)).await;
    crate::telemetry::record_upstream(&provider.name, sent.elapsed());
    let response = match answer {
        Ok(Ok(r)) => r,
        Err(_) => {
            // Connected and sent (a connection failure ends sooner, on its own timeout):
            // the upstream may be generating, and bills for it. Another attempt would make
            // it generate again, so this is the answer — and one failure for one key.
            keys.report(key.id, KeyOutcome::Failed(None), Some("timeout".into()));
            return Err(Failure::Final(ApiError::UpstreamTimeout(format!(
                "no response from provider '{}' within {}s",
                provider.name,
                wait.as_secs()
            ))));
        }
        Ok(Err(e)) => {
            let detail = truncate(&e.to_string(), 300);
            let outcome = match e {
                SendError::Connect(_) => KeyOutcome::Unreachable,
                _ => KeyOutcome::Failed(None),
            };
            keys.report(key.id, outcome, Some(detail.clone()));
            return Err(Failure::Retry(ApiError::UpstreamFailed(format!(
                "provider '{}': {detail}",
                provider.name
            ))));
        }
    };
    if let Some(r) = rec.as_mut() {
        r.mark_first_byte();
    }
    // hyper speaks `http` 1, actix-web `http` 0.2.
    let status =
        StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let limit = state.settings.upstream.max_response_bytes;

    if !status.is_success() {
        let retry_after = retry_after(response.headers());
        let body = read_body(response.into_body(), limit, deadline)
            .await
            .unwrap_or_default();
        let mut outcome = KeyOutcome::classify(status.as_u16(), &body, retry_after);
        if endpoint == Endpoint::CountTokens && matches!(outcome, KeyOutcome::RateLimited(_)) {
            // Counting has its own rate limit upstream: it says nothing of generation.
            outcome = KeyOutcome::RequestError;
        }
        let message = truncate(
            &ApiError::Upstream {
                status,
                body: body.clone(),
            }
            .message(),
            300,
        );
        keys.report(key.id, outcome, Some(message.clone()));
        let failure = ApiError::UpstreamFailed(format!(
            "provider '{}' answered {}: {message}",
            provider.name,
            status.as_u16(),
        ));
        return Err(match outcome {
            KeyOutcome::RequestError if status.as_u16() != 429 => {
                Failure::Final(ApiError::Upstream { status, body })
            }
            _ => Failure::Retry(failure),
        });
    }

    keys.report(key.id, KeyOutcome::Ok, None);
    if req.stream {
        let translator = adapter.stream(endpoint, req, state.settings.upstream.max_sse_line_bytes);
        let Some(record) = rec.take() else {
            return Err(Failure::Final(ApiError::internal(
                "call record missing",
                "stream started twice",
            )));
        };
        let remaining = deadline.saturating_duration_since(Instant::now());
        let stream = MeteredStream {
            inner: response.into_body(),
            translator,
            deadline: Box::pin(actix_web::rt::time::sleep(remaining)),
            done: Some(StreamEnd {
                record,
                prompt_tokens: req.prompt_estimate(),
            }),
            pending: BytesMut::new(),
            yielded: false,
            delivered: false,
            dialect: endpoint.dialect(),
        };
        return Ok(HttpResponse::Ok()
            .content_type("text/event-stream")
            .insert_header(("cache-control", "no-cache"))
            .streaming(stream));
    }

    let body = match read_body(response.into_body(), limit, deadline).await {
        Ok(body) => body,
        Err(e) if Instant::now() >= deadline => {
            // Generated (and billed upstream) already: not asked for again.
            keys.report(key.id, KeyOutcome::Failed(None), Some(e.clone()));
            return Err(Failure::Final(ApiError::UpstreamTimeout(format!(
                "provider '{}' body: {e}",
                provider.name
            ))));
        }
        Err(e) => {
            // Nothing has reached the client yet, so another attempt is still allowed.
            keys.report(key.id, KeyOutcome::Failed(None), Some(e.clone()));
            return Err(Failure::Retry(ApiError::UpstreamFailed(format!(
                "provider '{}' body: {e}",
                provider.name
            ))));
        }
    };
    let answer = adapter.response(endpoint, body);
    if let Some(mut record) = rec.take() {
        let prompt = if answer.usage.is_none() {
            req.prompt_estimate()
        } else {
            0
        };
        record.set_usage_or_estimate(answer.usage, prompt, answer.generated);
        record.finish(status.as_u16());
    }
    Ok(HttpResponse::build(StatusCode::OK)
        .content_type("application/json")
        .body(answer.body))
}

/// The key, among every candidate's cooling keys, that recovers soonest, claimed for a
/// recovery probe (`None`: none is cooling, or the probe is taken).
fn recovery_probe(
    candidates: &[Candidate],
    tried: &HashMap<i32, Vec<i32>>,
) -> Option<(Candidate, PickedKey)> {
    let exclude = |c: &Candidate| {
        tried
            .get(&c.provider.record.id)
            .cloned()
            .unwrap_or_default()
    };
    let soonest = candidates
        .iter()
        .filter_map(|c| c.keys.soonest_recovery(&exclude(c)).map(|until| (until, c)))
        .min_by_key(|(until, _)| *until)?
        .1;
    let key = soonest.keys.claim_recovery_probe(&exclude(soonest))?;
    Some((soonest.clone(), key))
}

/// Reads a whole upstream body, at most `limit` bytes, before `deadline`.
async fn read_body(body: Incoming, limit: usize, deadline: Instant) -> Result<Bytes, String> {
    let wait = deadline.saturating_duration_since(Instant::now());
    match timeout(wait, Limited::new(body, limit).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) => Err(error_chain(&*e)),
        Err(_) => Err("timed out reading the upstream body".into()),
    }
}

/// `Retry-After` in seconds or as an HTTP date, at most a day.
fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let text = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let secs = match text.parse::<u64>() {
        Ok(s) => s,
        Err(_) => {
            let when = chrono::DateTime::parse_from_rfc2822(text).ok()?;
            (when.timestamp() - chrono::Utc::now().timestamp()).max(0) as u64
        }
    };
    Some(Duration::from_secs(secs.min(86_400)))
}

/// Bookkeeping done exactly once when a stream ends, however it ends.
struct StreamEnd {
    record: CallRecord,
    prompt_tokens: i64,
}

/// Forwards an upstream SSE stream chunk by chunk, reading usage as it passes. When the
/// client goes away actix drops this stream, which drops the upstream response and so
/// cancels the upstream read; the call is billed on drop.
struct MeteredStream {
    inner: Incoming,
    translator: Box<dyn StreamTranslator>,
    deadline: Pin<Box<actix_web::rt::time::Sleep>>,
    done: Option<StreamEnd>,
    /// Translated bytes not yet handed to the client.
    pending: BytesMut,
    /// Whether this poll already yielded once to let the upstream connection read on.
    yielded: bool,
    /// Whether anything reached the client yet.
    delivered: bool,
    /// The client's dialect (for error events).
    dialect: Dialect,
}

impl MeteredStream {
    fn end(&mut self, status: u16, error: Option<(&str, String)>) {
        let Some(mut end) = self.done.take() else {
            return;
        };
        let t = &self.translator;
        if status == 200 {
            end.record
                .set_usage_or_estimate(t.usage(), end.prompt_tokens, t.generated_tokens());
        } else {
            // Cut: early usage (`message_start`) is no final count.
            end.record
                .set_usage_at_least(t.usage(), end.prompt_tokens, t.generated_tokens());
        }
        if let Some((kind, message)) = error {
            end.record.entry.error_type = Some(kind.to_string());
            end.record.entry.error_message = Some(message);
        }
        end.record.finish(status);
    }

    fn take_pending(&mut self) -> Bytes {
        self.yielded = false;
        self.delivered = true;
        self.pending.split().freeze()
    }

    /// An error event in the client's dialect, ending the stream.
    fn error_event(&self, message: &str) -> Bytes {
        let err = ApiError::UpstreamFailed(message.to_string());
        match self.dialect {
            Dialect::OpenAi => Bytes::from(format!("data: {}\n\n", err.body())),
            Dialect::Anthropic => {
                Bytes::from(format!("event: error\ndata: {}\n\n", err.anthropic_body()))
            }
        }
    }
}

impl Stream for MeteredStream {
    type Item = Result<Bytes, Infallible>;

    /// Relays what the upstream has sent so far. hyper hands body frames over from its
    /// connection task one at a time, so when a frame has just arrived this yields once
    /// (waking itself at the back of the queue) to let the connection decode what else is
    /// already buffered: a burst of events then leaves in one write instead of one write
    /// and two task switches each. It never waits for data that has not arrived.
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done.is_none() {
            return Poll::Ready(None);
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.end(
                504,
                Some(("upstream_timeout", "stream exceeded request_timeout".into())),
            );
            this.pending.clear();
            return Poll::Ready(Some(Ok(
                this.error_event("upstream stream exceeded the request timeout")
            )));
        }
        loop {
            if this.pending.len() >= RELAY_BATCH_BYTES {
                return Poll::Ready(Some(Ok(this.take_pending())));
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending if this.pending.is_empty() => return Poll::Pending,
                // The first event goes out at once: time to first token matters most.
                Poll::Pending if !this.yielded && this.delivered => {
                    this.yielded = true;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                Poll::Pending => return Poll::Ready(Some(Ok(this.take_pending()))),
                Poll::Ready(Some(Ok(frame))) => {
                    let Ok(bytes) = frame.into_data() else {
                        continue; // trailers
                    };
                    if let Some(end) = this.done.as_mut() {
                        end.record.mark_first_byte();
                    }
                    this.yielded = false;
                    if let Err(broken) = this.translator.feed(&bytes, &mut this.pending) {
                        let id = this
                            .done
                            .as_ref()
                            .map_or("", |d| d.record.entry.request_id.as_str());
                        log::warn!("{id} ending a stream from upstream: {broken}");
                        this.end(502, Some(("upstream_stream_error", broken.clone())));
                        this.pending.extend_from_slice(&this.error_event(&broken));
                        return Poll::Ready(Some(Ok(this.take_pending())));
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    let message = format!("upstream stream broke: {}", error_chain(&e));
                    this.end(502, Some(("upstream_stream_error", message.clone())));
                    this.pending.extend_from_slice(&this.error_event(&message));
                    return Poll::Ready(Some(Ok(this.take_pending())));
                }
                Poll::Ready(None) => {
                    this.translator.finish(&mut this.pending);
                    if this.translator.completed() {
                        this.end(200, None);
                    } else {
                        this.end(
                            502,
                            Some((
                                "upstream_stream_error",
                                "upstream closed the stream before it completed".into(),
                            )),
                        );
                    }
                    return if this.pending.is_empty() {
                        Poll::Ready(None)
                    } else {
                        Poll::Ready(Some(Ok(this.take_pending())))
                    };
                }
            }
        }
    }
}

/// Most bytes relayed in one write when several upstream frames are already waiting.
const RELAY_BATCH_BYTES: usize = 64 * 1024;

impl Drop for MeteredStream {
    fn drop(&mut self) {
        if self.done.is_some() {
            self.end(
                499,
                Some((
                    "client_disconnected",
                    "client closed the stream early".into(),
                )),
            );
        }
    }
}
