//! The attempt loop: choose a provider and key, exchange with the upstream (`exchange`),
//! record what the exchange says of the key, and fail over on connection errors, 429 and
//! 5xx — never after a byte has reached the client, nor after a timeout (the upstream may
//! be generating). A streamed answer is relayed by `relay`.

mod exchange;
mod relay;

use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::HttpResponse;

use crate::actors::response_store::Keep;
use crate::call_record::CallRecord;
use crate::core::endpoint::Endpoint;
use crate::core::stream::StreamTranslator;
use crate::core::text::truncate;
use crate::error::ApiError;
use crate::routing::key_outcome::classify;
use crate::routing::keys::{KeyOutcome, PickedKey};
use crate::routing::table::{Candidate, Route};
use crate::state::AppState;
use crate::traces::CallTrace;
use crate::upstream::http::UpstreamHttp;
use crate::upstream::leg::Leg;
use crate::upstream::quirks::Quirks;
use crate::upstream::{answer, request, stream, Answer, ClientRequest, Target};
use exchange::{Deadlines, Outcome, Pacing};
use relay::{MeteredStream, StreamEnd};

/// Why an attempt failed, and whether another may follow.
enum Failure {
    /// Try the next key or provider.
    Retry(ApiError),
    /// Final: answer the client with this.
    Final(ApiError),
}

/// A call that got no answer, with its record (for the caller to log as failed).
pub struct Unanswered {
    pub error: ApiError,
    pub record: CallRecord,
}

/// What a successful attempt delivers.
enum Delivery {
    /// A stream to relay through its translator.
    Stream {
        body: hyper::body::Incoming,
        translator: Box<dyn StreamTranslator>,
        pacing: Pacing,
        /// Keep-alive interval (a translated stream to an Anthropic client).
        ping: Option<Duration>,
    },
    /// A whole answer in the client's dialect.
    Whole(Answer, Pacing),
}

/// Proxies one admitted call. Its record is settled when it succeeds (for streams, when
/// the stream ends); a failure hands it back with the error.
pub async fn forward(
    state: &AppState,
    client: &UpstreamHttp,
    mut rec: CallRecord,
    endpoint: Endpoint,
    req: ClientRequest,
    route: Route,
) -> Result<HttpResponse, Unanswered> {
    let settings = &state.settings;
    let max_attempts = settings.routing.max_attempts;
    let first_byte = Duration::from_secs(settings.upstream.first_byte_timeout_secs);
    let whole_call = Duration::from_secs(settings.upstream.request_timeout_secs);
    let deadline = Instant::now() + whole_call;

    let mut candidates: Vec<Candidate> = route.candidates;
    // Candidates left without a usable key (their cool-downs make the `Retry-After`).
    let mut tried_candidates: Vec<Candidate> = Vec::new();
    // Keys tried so far, as (provider id, key id): no allocation until the first attempt,
    // and exclusion lists are made only for a provider already tried (failover).
    let mut tried: Vec<(i32, i32)> = Vec::new();
    let mut attempts = 0u32;
    let mut next = 0usize;
    let mut last_error: Option<ApiError> = None;

    let mut probed = false;
    while attempts < max_attempts {
        let (idx, candidate, key) = if !candidates.is_empty() {
            let idx = next % candidates.len();
            let candidate = candidates[idx].clone();
            let exclude = excluded(&tried, candidate.provider.record.id);
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
        tried.push((provider_id, key.id));
        rec.first_attempt.get_or_insert_with(Instant::now);
        let e = &mut rec.entry;
        e.attempts = attempts;
        e.provider = Some(candidate.provider.record.name.clone());
        e.model = Some(candidate.upstream_model.clone());
        e.key_id = Some(key.id);
        rec.model_listed = candidate.listed;
        let tried_once = attempt(
            state, client, &mut rec, endpoint, &req, &candidate, &key, first_byte, deadline,
        )
        .await;
        match tried_once {
            Ok((delivery, leg)) => {
                let keep = keeper(state, &rec, &req, leg);
                return Ok(deliver(delivery, rec, endpoint, &req, deadline, keep));
            }
            Err(Failure::Final(error)) => return Err(Unanswered { error, record: rec }),
            Err(Failure::Retry(err)) => {
                log::warn!(
                    "{} attempt {attempts} on provider {} key {} failed: {err}",
                    rec.entry.request_id,
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
    let error = match (last_error, cooling) {
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
    };
    Err(Unanswered { error, record: rec })
}

#[allow(clippy::too_many_arguments)]
async fn attempt(
    state: &AppState,
    client: &UpstreamHttp,
    rec: &mut CallRecord,
    endpoint: Endpoint,
    req: &ClientRequest,
    candidate: &Candidate,
    key: &PickedKey,
    first_byte: Duration,
    deadline: Instant,
) -> Result<(Delivery, Leg), Failure> {
    let provider = &candidate.provider.record;
    let quirks = provider.quirks;
    let leg = Leg::of(endpoint, quirks.dialects);
    let target = Target {
        base_url: &provider.base_url,
        key: &key.secret,
        model: &candidate.upstream_model,
        completion_cap: req.cap_for(
            candidate.max_output,
            state.settings.accounting.default_completion_tokens,
        ),
        max_output: candidate.max_output,
        leg,
        quirks,
    };
    let mut up = request::build(&target, endpoint, req).map_err(Failure::Final)?;
    if let Some(trace) = rec.trace.as_mut() {
        let model = &candidate.upstream_model;
        let (traceparent, state) = trace.start_attempt(rec.entry.attempts, provider, model, key);
        request::set_trace(&mut up, traceparent, state);
    }
    let keys = &candidate.keys;
    // The first-byte timeout is for streams, whose headers come at once; a whole answer's
    // headers come when it is generated, so it waits for the whole call's deadline.
    let left = deadline.saturating_duration_since(Instant::now());
    let deadlines = Deadlines {
        head: if req.stream {
            first_byte.min(left)
        } else {
            left
        },
        whole: deadline,
    };
    let limit = state.settings.upstream.max_response_bytes;
    let sent = Instant::now();
    let exchange = exchange::send(
        client,
        up,
        req.stream,
        &deadlines,
        limit,
        leg.passes_through(),
    )
    .await;
    crate::telemetry::record_upstream(&provider.name, sent.elapsed());
    if let Some(at) = exchange.head_at {
        rec.mark_first_byte_at(at);
    }
    // A pass-through answer relays the upstream's pacing headers (its client speaks the
    // same API and reads them); a translated one has none (they describe another API).
    let pacing = exchange.pacing;
    let (health, detail) = key_health(&exchange.outcome, endpoint, quirks);
    if let Some(trace) = rec.trace.as_mut() {
        trace_outcome(trace, &exchange.outcome);
    }
    keys.report(key.id, health, detail.clone());
    let named = |what: String| format!("provider '{}': {what}", provider.name);
    let body = match exchange.outcome {
        // Connected and sent: the upstream may be generating, and bills for it. Another
        // attempt would make it generate again, so this is the answer.
        Outcome::TimedOut(m) => return Err(Failure::Final(ApiError::UpstreamTimeout(named(m)))),
        Outcome::Unreachable(m) | Outcome::Broken(m) => {
            // Nothing has reached the client yet, so another attempt is still allowed.
            return Err(Failure::Retry(ApiError::UpstreamFailed(named(m))));
        }
        Outcome::Refused { status, body, .. } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            return Err(match health {
                KeyOutcome::RequestError if status.as_u16() != 429 => {
                    Failure::Final(ApiError::Upstream {
                        status,
                        body,
                        pacing: pacing.into(),
                    })
                }
                _ => Failure::Retry(ApiError::UpstreamFailed(format!(
                    "provider '{}' answered {}: {}",
                    provider.name,
                    status.as_u16(),
                    detail.unwrap_or_default()
                ))),
            });
        }
        Outcome::Stream(body) => {
            let max_line = state.settings.upstream.max_sse_line_bytes;
            let mut translator = stream::translator(leg, endpoint, req, max_line);
            if rec.trace.is_some() {
                translator.keep_outline(leg.upstream);
            }
            let ping = (!leg.passes_through()
                && endpoint.dialect() == crate::core::endpoint::Dialect::Messages)
                .then(|| Duration::from_secs(state.settings.upstream.stream_ping_secs));
            return Ok((
                Delivery::Stream {
                    body,
                    translator,
                    pacing,
                    ping,
                },
                leg,
            ));
        }
        Outcome::Whole(body) => body,
    };
    let mut answer = answer::read(leg, endpoint, req, body, rec.trace.is_some());
    if let Some(trace) = rec.trace.as_mut() {
        if let Some(outline) = answer.outline.take() {
            trace.outline(outline);
        }
        trace.output(&answer.body);
    }
    Ok((Delivery::Whole(answer, pacing), leg))
}

/// Renders a delivered answer and hands the call's record on: a stream carries it to its
/// end, a whole answer settles it now.
fn deliver(
    delivery: Delivery,
    mut rec: CallRecord,
    endpoint: Endpoint,
    req: &ClientRequest,
    deadline: Instant,
    keep: Option<Keep>,
) -> HttpResponse {
    match delivery {
        Delivery::Stream {
            body,
            translator,
            pacing,
            ping,
        } => {
            let end = StreamEnd {
                record: rec,
                prompt_tokens: req.prompt_estimate(),
                keep,
            };
            let stream =
                MeteredStream::new(body, translator, deadline, end, endpoint.dialect(), ping);
            let mut response = HttpResponse::Ok();
            response
                .content_type("text/event-stream")
                .insert_header(("cache-control", "no-cache"));
            for (name, value) in &pacing {
                response.insert_header((name.as_str(), value.as_bytes()));
            }
            response.streaming(stream)
        }
        Delivery::Whole(answer, pacing) => {
            let prompt = if answer.usage.is_none() {
                req.prompt_estimate()
            } else {
                0
            };
            rec.set_usage_or_estimate(answer.usage, prompt, answer.generated);
            rec.finish(200);
            if let (Some(keep), Some(object)) = (keep, answer.response_object) {
                keep.response(object);
            }
            let mut response = HttpResponse::build(StatusCode::OK);
            response.content_type("application/json");
            for (name, value) in &pacing {
                response.insert_header((name.as_str(), value.as_bytes()));
            }
            response.body(answer.body)
        }
    }
}

/// Who keeps a Responses-API call's answer: the response store, when the call stores it.
fn keeper(state: &AppState, rec: &CallRecord, req: &ClientRequest, leg: Leg) -> Option<Keep> {
    let ctx = req.responses.as_ref().filter(|ctx| ctx.store)?;
    Some(Keep {
        store: state.responses.clone(),
        token_id: rec.entry.token_id?,
        ctx: ctx.clone(),
        translated_to: (!leg.passes_through()).then_some(leg.upstream),
    })
}

/// What an exchange says on the attempt's span: the upstream's status, and why it failed
/// (`error.type`: the status code of a refusal, else what went wrong), ending it then.
fn trace_outcome(trace: &mut CallTrace, outcome: &Outcome) {
    let failed = match outcome {
        Outcome::Stream(_) | Outcome::Whole(_) => {
            trace.answered(200);
            return;
        }
        Outcome::Refused { status, .. } => {
            trace.answered(*status);
            status.to_string()
        }
        Outcome::TimedOut(_) => "timeout".into(),
        Outcome::Unreachable(_) => "connection_failed".into(),
        Outcome::Broken(_) => "broken_response".into(),
    };
    trace.attempt_failed(failed);
}

/// What an exchange says of its key's health, and the detail to remember with it.
fn key_health(
    outcome: &Outcome,
    endpoint: Endpoint,
    quirks: &Quirks,
) -> (KeyOutcome, Option<String>) {
    match outcome {
        Outcome::Stream(_) | Outcome::Whole(_) => (KeyOutcome::Ok, None),
        Outcome::Unreachable(m) => (KeyOutcome::Unreachable, Some(m.clone())),
        Outcome::Broken(m) | Outcome::TimedOut(m) => (KeyOutcome::Failed(None), Some(m.clone())),
        Outcome::Refused {
            status,
            body,
            retry_after,
        } => {
            let mut health = classify(quirks, *status, body, *retry_after);
            if endpoint == Endpoint::CountTokens && matches!(health, KeyOutcome::RateLimited(_)) {
                // Counting has its own rate limit upstream: it says nothing of generation.
                health = KeyOutcome::RequestError;
            }
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY);
            let message = ApiError::Upstream {
                status,
                body: body.clone(),
                pacing: Default::default(),
            }
            .message();
            (health, Some(truncate(&message, 300)))
        }
    }
}

/// The keys of `provider` already tried (empty, and unallocated, for one not tried yet).
fn excluded(tried: &[(i32, i32)], provider: i32) -> Vec<i32> {
    tried
        .iter()
        .filter(|(p, _)| *p == provider)
        .map(|(_, key)| *key)
        .collect()
}

/// The key, among every candidate's cooling keys, that recovers soonest, claimed for a
/// recovery probe (`None`: none is cooling, or the probe is taken).
fn recovery_probe(
    candidates: &[Candidate],
    tried: &[(i32, i32)],
) -> Option<(Candidate, PickedKey)> {
    let exclude = |c: &Candidate| excluded(tried, c.provider.record.id);
    let soonest = candidates
        .iter()
        .filter_map(|c| c.keys.soonest_recovery(&exclude(c)).map(|until| (until, c)))
        .min_by_key(|(until, _)| *until)?
        .1;
    let key = soonest.keys.claim_recovery_probe(&exclude(soonest))?;
    Some((soonest.clone(), key))
}
