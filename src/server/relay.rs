//! The relay phase, written once for every streaming route: held-back events
//! first, then the live upstream stream, each event through the route's
//! converter, the idle timeout, and the ledger told how the stream ended.
//!
//! The body is a `stream::unfold` that hyper pulls: backpressure needs no
//! task and no channel, and dropping the body (client gone) drops the upstream
//! response, which cancels the upstream request.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{stream, StreamExt};
use serde_json::json;
use sse_stream::Sse;

use super::body::{self, Body};
use super::ledger::Ledger;
use crate::translate::chat_stream::{self, ChatStream, Step};
use crate::translate::messages_stream::{self, MessagesStream};
use crate::upstream::events::{Event, Kind, Usage};
use crate::upstream::sse::{self, EventStream};
use crate::upstream::Failure;

/// A route's per-event conversion of the upstream stream.
pub(super) trait Convert: Send + 'static {
    /// Appends what the client gets for one upstream event.
    fn convert(&mut self, sse: Sse, out: &mut BytesMut) -> Step;
    /// Appends the frame that tells the client the stream failed.
    fn error_frame(&self, failure: &Failure, out: &mut BytesMut);
    /// The model and usage the finished stream reported.
    fn outcome(&self) -> (Option<&str>, Option<&Usage>);
}

/// Chat Completions: each event becomes zero or more chunk frames.
impl Convert for ChatStream {
    fn convert(&mut self, sse: Sse, out: &mut BytesMut) -> Step {
        self.push(sse.data.as_deref().unwrap_or(""), out)
    }

    fn error_frame(&self, failure: &Failure, out: &mut BytesMut) {
        chat_stream::error_frame(failure, out);
    }

    fn outcome(&self) -> (Option<&str>, Option<&Usage>) {
        (Some(self.model()), self.usage())
    }
}

/// Anthropic Messages: each event becomes zero or more Messages events.
impl Convert for MessagesStream {
    fn convert(&mut self, sse: Sse, out: &mut BytesMut) -> Step {
        self.push(sse.data.as_deref().unwrap_or(""), out)
    }

    fn error_frame(&self, failure: &Failure, out: &mut BytesMut) {
        messages_stream::error_frame(failure, out);
    }

    fn outcome(&self) -> (Option<&str>, Option<&Usage>) {
        (Some(self.model()), self.usage())
    }
}

/// Responses: each event is relayed as upstream sent it, parsed once to see
/// whether the stream ends with it.
#[derive(Default)]
pub(super) struct Passthrough {
    model: Option<String>,
    usage: Option<Usage>,
}

impl Convert for Passthrough {
    fn convert(&mut self, sse: Sse, out: &mut BytesMut) -> Step {
        let data = sse.data.as_deref().unwrap_or("");
        let event = Event::parse(data).ok();
        let name = sse
            .event
            .as_deref()
            .or(event.as_ref().map(|e| e.name.as_ref()));
        out.reserve(data.len() + 48);
        sse::encode(name, data, out);
        let Some(event) = event else {
            return Step::Continue;
        };
        if let Some(f) = event.failure() {
            return Step::Failed(f);
        }
        if matches!(event.kind(), Kind::Completed | Kind::Incomplete) {
            let info = event.response().unwrap_or_default();
            self.model = info.model;
            self.usage = info.usage;
            return Step::Done;
        }
        Step::Continue
    }

    /// A Responses-style `error` event.
    fn error_frame(&self, f: &Failure, out: &mut BytesMut) {
        let data = json!({"type": "error", "code": f.client_code(), "message": f.to_string(), "param": null});
        sse::encode(Some("error"), &data.to_string(), out);
    }

    fn outcome(&self) -> (Option<&str>, Option<&Usage>) {
        (self.model.as_deref(), self.usage.as_ref())
    }
}

/// The state of one relayed stream.
pub(super) struct Relay<C> {
    conv: C,
    /// Events read before the first output (failover was still possible).
    buffered: VecDeque<Sse>,
    events: EventStream,
    idle: Duration,
    ledger: Ledger,
    done: bool,
}

impl<C: Convert> Relay<C> {
    pub(super) fn new(
        conv: C,
        buffered: VecDeque<Sse>,
        events: EventStream,
        idle: Duration,
        ledger: Ledger,
    ) -> Relay<C> {
        Relay {
            conv,
            buffered,
            events,
            idle,
            ledger,
            done: false,
        }
    }

    /// The response body that relays the stream as hyper pulls it. A panic
    /// while relaying (a bug) ends the body; the ledger, dropped while the
    /// panic unwinds, counts the request as `internal_error`.
    pub(super) fn into_body(self) -> Body {
        let relayed = stream::unfold(self, Relay::next);
        let guarded = std::panic::AssertUnwindSafe(relayed)
            .catch_unwind()
            .scan((), |(), item| {
                futures_util::future::ready(match item {
                    Ok(bytes) => Some(bytes),
                    Err(panic) => {
                        tracing::error!(
                            panic = super::panic_text(&panic),
                            "bug: a stream relay panicked"
                        );
                        None
                    }
                })
            });
        body::stream(guarded)
    }

    async fn next(mut self) -> Option<(Bytes, Relay<C>)> {
        if self.done {
            return None;
        }
        loop {
            let sse = match self.buffered.pop_front() {
                Some(s) => s,
                None => match self.events.next(self.idle).await {
                    Ok(Some(sse)) => sse,
                    Ok(None) => return Some(self.fail(cut(Failure::StreamTruncated))),
                    Err(f) => return Some(self.fail(cut(f))),
                },
            };
            self.ledger.observe(sse.data.as_deref().unwrap_or(""));
            let mut out = BytesMut::new();
            match self.conv.convert(sse, &mut out) {
                Step::Continue if out.is_empty() => continue,
                Step::Continue => {}
                Step::Done => {
                    self.done = true;
                    let (model, usage) = self.conv.outcome();
                    if let Some(m) = model {
                        self.ledger.set_model(m);
                    }
                    self.ledger.complete(usage);
                }
                Step::Failed(f) => {
                    self.done = true;
                    self.ledger.fail(&f);
                }
            }
            return Some((out.freeze(), self));
        }
    }

    fn fail(mut self, f: Failure) -> (Bytes, Relay<C>) {
        self.done = true;
        let mut out = BytesMut::new();
        self.conv.error_frame(&f, &mut out);
        self.ledger.fail(&f);
        (out.freeze(), self)
    }
}

/// The relay runs after output began: a connection that breaks or ends
/// early now is the edge cutting the answer (`docs/upstream.md` §9), said
/// plainly and not held against the account. A failure upstream reported
/// itself keeps its own words.
fn cut(f: Failure) -> Failure {
    match f {
        Failure::StreamTruncated => Failure::StreamCut {
            cause: "it ended before response.completed".into(),
        },
        Failure::Connect { message } => Failure::StreamCut { cause: message },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use http_body_util::BodyExt;

    use super::*;
    use crate::app::App;
    use crate::route::Route;

    /// A converter with a bug: it panics on the second event.
    struct Buggy(u32);

    impl Convert for Buggy {
        fn convert(&mut self, _: Sse, out: &mut BytesMut) -> Step {
            self.0 += 1;
            assert!(self.0 < 2, "a bug in a converter");
            out.extend_from_slice(b"data: one\n\n");
            Step::Continue
        }
        fn error_frame(&self, _: &Failure, _: &mut BytesMut) {}
        fn outcome(&self) -> (Option<&str>, Option<&Usage>) {
            (None, None)
        }
    }

    #[tokio::test]
    async fn a_panic_while_relaying_ends_the_body_and_counts_internal_error() {
        let dir = std::env::temp_dir();
        let config = crate::config::Config::parse("", &dir.join("none.toml")).unwrap();
        let app = App::new(config).unwrap();
        let frames = ["data: {\"type\":\"a\"}\n\n", "data: {\"type\":\"b\"}\n\n"];
        let bytes = futures_util::stream::iter(
            frames.map(|f| Ok::<_, std::convert::Infallible>(Bytes::from(f))),
        );
        let ledger = Ledger::open(
            Arc::clone(&app),
            Route::Chat,
            std::time::Instant::now(),
            None,
        );
        let relay = Relay::new(
            Buggy(0),
            VecDeque::new(),
            EventStream::new(bytes),
            Duration::from_secs(5),
            ledger,
        );
        let body = relay.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            &body[..],
            b"data: one\n\n",
            "what came before the bug is sent"
        );
        let scrape = String::from_utf8(app.metrics.scrape(&[])).unwrap();
        assert!(
            scrape.contains(
                r#"codex_pool_requests_total{code="internal_error",route="chat",status_class="5xx"} 1"#
            ),
            "{scrape}"
        );
        assert!(!scrape.contains("client_disconnected"), "{scrape}");
    }
}
