//! The relay phase, written once for every streaming route: held-back events
//! first, then the live upstream stream, each event parsed once and handed
//! to the ledger and the route's converter (`translate::Convert`), the idle
//! timeout, and the ledger told how the stream ended.
//!
//! The body is a `stream::unfold` that hyper pulls: backpressure needs no
//! task and no channel, and dropping the body (client gone) drops the upstream
//! response, which cancels the upstream request.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{stream, StreamExt};

use super::body::{self, Body};
use super::ledger::Ledger;
use crate::translate::{Convert, Step};
use crate::upstream::events::{Event, Held, Relayed};
use crate::upstream::sse::EventStream;
use crate::upstream::Failure;

/// The state of one relayed stream.
pub(super) struct Relay<C> {
    conv: C,
    /// Events read and parsed before the first output (failover was still
    /// possible).
    buffered: VecDeque<Held>,
    events: EventStream,
    idle: Duration,
    ledger: Ledger,
    /// What the client gets: each frame split off it, the rest of its
    /// allocation kept for the next ones.
    out: BytesMut,
    done: bool,
}

/// The room made in `out` when it runs short: enough for the frames of
/// about ten events per allocation (a held stream keeps the rest of it).
const OUT_BLOCK: usize = 2048;

impl<C: Convert> Relay<C> {
    pub(super) fn new(
        conv: C,
        buffered: VecDeque<Held>,
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
            out: BytesMut::new(),
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
            if self.out.capacity() < OUT_BLOCK / 4 {
                self.out.reserve(OUT_BLOCK);
            }
            let Relay {
                conv,
                buffered,
                events,
                idle,
                ledger,
                out,
                ..
            } = &mut self;
            let step = match buffered.pop_front() {
                // Parsed in the hold-back: handed on with its parse.
                Some(held) => convert(conv, ledger, held.relayed(), out),
                None => {
                    // Borrowed from the decoder's buffer, parsed once, borrowed.
                    let sse = match events.next(*idle).await {
                        Ok(Some(sse)) => sse,
                        Ok(None) => return Some(self.fail(cut(Failure::StreamTruncated))),
                        Err(f) => return Some(self.fail(cut(f))),
                    };
                    let data = sse.data.unwrap_or("");
                    let event = Event::parse(data).ok();
                    let relayed = Relayed {
                        name: sse.event,
                        data,
                        event: event.as_ref(),
                    };
                    convert(conv, ledger, relayed, out)
                }
            };
            match step {
                Step::Continue if self.out.is_empty() => continue,
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
            let frame = self.out.split().freeze();
            return Some((frame, self));
        }
    }

    fn fail(mut self, f: Failure) -> (Bytes, Relay<C>) {
        self.done = true;
        self.conv.error_frame(&f, &mut self.out);
        self.ledger.fail(&f);
        let frame = self.out.split().freeze();
        (frame, self)
    }
}

/// One event, parsed once: to the ledger (a blob it carries), then
/// through the converter.
fn convert<C: Convert>(
    conv: &mut C,
    ledger: &Ledger,
    relayed: Relayed<'_>,
    out: &mut BytesMut,
) -> Step {
    if let Some(e) = relayed.event {
        ledger.observe(e);
    }
    conv.convert(relayed, out)
}

/// The relay runs after output began: a connection that breaks or ends
/// early now is the edge cutting the answer (`docs/upstream.md` §12), said
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
    use crate::upstream::events::{Kind, Usage};
    use crate::upstream::sse::Sse;

    /// A converter with a bug: it panics on the second event.
    struct Buggy(u32);

    impl Convert for Buggy {
        fn convert(&mut self, _: Relayed<'_>, out: &mut BytesMut) -> Step {
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

    /// What a converter was given: the SSE name, the data, the parse's kind.
    type Seen = Arc<std::sync::Mutex<Vec<(Option<String>, String, Option<Kind>)>>>;

    /// A converter that writes down what it was given, and relays the data.
    struct Recording(Seen);

    impl Convert for Recording {
        fn convert(&mut self, r: Relayed<'_>, out: &mut BytesMut) -> Step {
            let kind = r.event.map(Event::kind);
            let seen = (r.name.map(str::to_owned), r.data.to_owned(), kind);
            self.0.lock().unwrap().push(seen);
            out.extend_from_slice(r.data.as_bytes());
            match kind {
                Some(Kind::Completed) => Step::Done,
                _ => Step::Continue,
            }
        }
        fn error_frame(&self, _: &Failure, _: &mut BytesMut) {}
        fn outcome(&self) -> (Option<&str>, Option<&Usage>) {
            (None, None)
        }
    }

    #[tokio::test]
    async fn held_events_reach_the_converter_with_their_parse_before_the_live_ones() {
        let dir = std::env::temp_dir();
        let config = crate::config::Config::parse("", &dir.join("none.toml")).unwrap();
        let app = App::new(config).unwrap();
        let held = |name: Option<&str>, data: &str| {
            Held::new(Sse {
                event: name,
                data: Some(data),
            })
        };
        let buffered = VecDeque::from([
            held(Some("response.created"), r#"{"type":"response.created"}"#),
            held(None, "not json"),
        ]);
        let live = [
            "data: {\"type\":\"response.output_text.delta\",\"delta\":\"hi\"}\n\n",
            "event: response.completed\ndata: {\"type\":\"response.completed\"}\n\n",
        ];
        let bytes = futures_util::stream::iter(
            live.map(|f| Ok::<_, std::convert::Infallible>(Bytes::from(f))),
        );
        let ledger = Ledger::open(
            Arc::clone(&app),
            Route::Responses,
            std::time::Instant::now(),
            None,
        );
        let seen = Seen::default();
        let relay = Relay::new(
            Recording(Arc::clone(&seen)),
            buffered,
            EventStream::new(bytes),
            Duration::from_secs(5),
            ledger,
        );
        let body = relay.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            concat!(
                r#"{"type":"response.created"}"#,
                "not json",
                r#"{"type":"response.output_text.delta","delta":"hi"}"#,
                r#"{"type":"response.completed"}"#,
            )
        );
        let seen = seen.lock().unwrap().clone();
        let named: Vec<_> = seen.iter().map(|(n, _, k)| (n.as_deref(), *k)).collect();
        assert_eq!(
            named,
            [
                (Some("response.created"), Some(Kind::Created)),
                (None, None),
                (None, Some(Kind::OutputTextDelta)),
                (Some("response.completed"), Some(Kind::Completed)),
            ],
            "held events first, with their parse, then the live ones"
        );
    }
}
