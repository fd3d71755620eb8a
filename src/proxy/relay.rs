//! Relaying a streamed answer to the client chunk by chunk, metering it as it passes, and
//! settling the call once however the stream ends.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::Stream;
use hyper::body::{Body, Incoming};

use crate::actors::response_store::Keep;
use crate::call_record::CallRecord;
use crate::core::endpoint::Dialect;
use crate::core::stream::StreamTranslator;
use crate::error::ApiError;
use crate::upstream::http::error_chain;

/// Bookkeeping done exactly once when a stream ends, however it ends.
pub struct StreamEnd {
    pub record: CallRecord,
    pub prompt_tokens: i64,
    /// Where a finished Responses-API answer is stored, when the call stores it.
    pub keep: Option<Keep>,
}

/// Forwards an upstream SSE stream chunk by chunk, reading usage as it passes. When the
/// client goes away actix drops this stream, which drops the upstream response and so
/// cancels the upstream read; the call is billed on drop.
pub struct MeteredStream {
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
    /// Keep-alive for a translated Anthropic stream: a `ping` event after this long without
    /// upstream data (once something reached the client: never before `message_start`).
    ping: Option<(std::time::Duration, Pin<Box<actix_web::rt::time::Sleep>>)>,
}

/// Anthropic's keep-alive event, as its own streams send it.
const PING: &[u8] = b"event: ping\ndata: {\"type\": \"ping\"}\n\n";

impl MeteredStream {
    /// Relays `inner` through `translator` until `deadline`; `done` settles the call;
    /// `ping`: the keep-alive interval of a translated Anthropic stream.
    pub fn new(
        inner: Incoming,
        translator: Box<dyn StreamTranslator>,
        deadline: std::time::Instant,
        done: StreamEnd,
        dialect: Dialect,
        ping: Option<std::time::Duration>,
    ) -> MeteredStream {
        let remaining = deadline.saturating_duration_since(std::time::Instant::now());
        MeteredStream {
            inner,
            translator,
            deadline: Box::pin(actix_web::rt::time::sleep(remaining)),
            done: Some(done),
            pending: BytesMut::new(),
            yielded: false,
            delivered: false,
            dialect,
            ping: ping.map(|every| (every, Box::pin(actix_web::rt::time::sleep(every)))),
        }
    }

    /// Upstream silent and nothing waiting: a `ping` when the keep-alive is due.
    fn poll_ping(&mut self, cx: &mut Context<'_>) -> Option<Bytes> {
        let (every, sleep) = self.ping.as_mut()?;
        if !self.delivered || sleep.as_mut().poll(cx).is_pending() {
            return None;
        }
        let every = *every;
        sleep
            .as_mut()
            .reset(actix_web::rt::time::Instant::now() + every);
        // Registers the new deadline with this task's waker.
        let _ = sleep.as_mut().poll(cx);
        Some(Bytes::from_static(PING))
    }

    /// Upstream data arrived: the keep-alive waits a whole interval again.
    fn quiet_reset(&mut self) {
        if let Some((every, sleep)) = self.ping.as_mut() {
            sleep
                .as_mut()
                .reset(actix_web::rt::time::Instant::now() + *every);
        }
    }

    fn end(&mut self, status: u16, error: Option<(&str, String)>) {
        let Some(mut end) = self.done.take() else {
            return;
        };
        let t = &mut self.translator;
        if status == 200 {
            if let Some(keep) = end.keep.take() {
                if let Some(response) = t.response_object() {
                    keep.response(response);
                }
            }
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
        if let Some(trace) = end.record.trace.as_mut() {
            if let Some(outline) = t.outline() {
                trace.outline(outline);
            }
            if status != 200 {
                trace.cut();
            }
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
        crate::dialect::errors::stream_event(self.dialect, &err)
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
                Poll::Pending if this.pending.is_empty() => {
                    return match this.poll_ping(cx) {
                        Some(ping) => Poll::Ready(Some(Ok(ping))),
                        None => Poll::Pending,
                    };
                }
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
                        if let Some(trace) = end.record.trace.as_mut() {
                            trace.first_token();
                        }
                    }
                    this.yielded = false;
                    this.quiet_reset();
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
