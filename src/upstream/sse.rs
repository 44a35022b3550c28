//! Server-sent events: decoding upstream's stream and encoding ours.
//!
//! Decoding is `sse/decode.rs`: each event's `data` (and `event` name) is
//! handed out as a slice of the receive buffer, valid until the next event
//! is asked for. This module adds what bounds it: an idle timeout (one
//! timer per stream, moved on only when it fires early), an optional
//! overall deadline, a maximum event size; and the few encoders we need.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use tokio::time::{Instant, Sleep};

use super::Failure;

mod decode;

use decode::Decoder;

/// The largest one upstream event may grow to. Upstream's largest real events
/// (a final `response.completed` repeating every output item) stay far below
/// it; without it, a `data:` line that never ends grows until the idle
/// timeout.
pub const EVENT_LIMIT: usize = 16 * 1024 * 1024;

/// At most this many bytes of events are held back before the first output
/// (beside a count limit): past it, failover is over and the stream is relayed.
pub const HOLD_BACK_BYTES: usize = 8 * 1024 * 1024;

/// The longest a collected (non-stream) answer may take as a whole. Every
/// event resets the idle timeout, even one that carries nothing (a progress
/// event, a nameless `event:` block), so only this ends an upstream that keeps
/// a connection busy without ever finishing.
pub const COLLECT_DEADLINE: Duration = Duration::from_secs(30 * 60);

type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, String>> + Send>>;

/// One upstream event, borrowed from the decoder's buffer: its `event:` name
/// when upstream sent one, and its data (always there: events without data
/// are skipped).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sse<'a> {
    pub event: Option<&'a str>,
    pub data: Option<&'a str>,
}

/// Upstream's events, one `Sse` (event name + data) at a time.
pub struct EventStream {
    body: ByteStream,
    decoder: Decoder,
    /// When the whole stream must be over, and the span that was allowed.
    deadline: Option<(Instant, Duration)>,
    /// The stream's one timer, made at the first wait.
    timer: Option<Pin<Box<Sleep>>>,
    ended: bool,
}

impl EventStream {
    pub fn new<S, E>(bytes: S) -> EventStream
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: std::fmt::Display,
    {
        EventStream::with_event_limit(bytes, EVENT_LIMIT)
    }

    fn with_event_limit<S, E>(bytes: S, limit: usize) -> EventStream
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: std::fmt::Display,
    {
        let body = bytes.map(|r| r.map_err(|e| e.to_string()));
        EventStream {
            body: Box::pin(body),
            decoder: Decoder::new(limit),
            deadline: None,
            timer: None,
            ended: false,
        }
    }

    pub fn from_body(body: super::BodyStream) -> EventStream {
        EventStream::new(body)
    }

    /// From now on, the stream fails with a timeout once `total` has passed,
    /// however lively it is (`COLLECT_DEADLINE` for a collected answer).
    pub fn set_deadline(&mut self, total: Duration) {
        self.deadline = Some((Instant::now() + total, total));
    }

    /// The next event with data; `Ok(None)` at the end of the stream (and
    /// after a failure). What it borrows is valid until the next call.
    ///
    /// The idle timeout runs from the call, and again from each block without
    /// data (an `event:` alone, say) that upstream finishes; bytes that finish
    /// nothing (a comment, a piece of an event) do not move it.
    pub async fn next(&mut self, idle: Duration) -> Result<Option<Sse<'_>>, Failure> {
        let mut idle_end: Option<Instant> = None;
        let mut blocks = self.decoder.blocks();
        let found = loop {
            if self.ended || self.decoder.failed() {
                self.end();
                return Ok(None);
            }
            if let Some(found) = self.decoder.scan() {
                break found;
            }
            if let Err(too_large) = self.decoder.check_size() {
                self.end();
                return Err(Failure::StreamFailed {
                    code: None,
                    message: too_large.to_string(),
                });
            }
            if self.decoder.blocks() != blocks {
                blocks = self.decoder.blocks();
                idle_end = None;
            }
            let idle_end = *idle_end.get_or_insert_with(|| Instant::now() + idle);
            match self.chunk(idle_end, idle).await {
                Ok(Some(bytes)) => self.decoder.feed(&bytes),
                Ok(None) => {
                    self.end();
                    return Ok(None);
                }
                Err(f) => {
                    self.end();
                    return Err(f);
                }
            }
        };
        match self.decoder.event(found) {
            Ok((event, data)) => Ok(Some(Sse {
                event,
                data: Some(data),
            })),
            Err(e) => Err(Failure::Connect {
                message: format!("stream broke: utf8 parse error: {e}"),
            }),
        }
    }

    fn end(&mut self) {
        self.ended = true;
        self.decoder.clear();
        self.timer = None;
    }

    /// The next chunk of the body, within the idle timeout and the deadline.
    async fn chunk(&mut self, idle_end: Instant, idle: Duration) -> Result<Option<Bytes>, Failure> {
        let (until, phase, after) = match self.deadline {
            Some((end, total)) if end < idle_end => (end, "for the whole answer", total),
            _ => (idle_end, "between stream events", idle),
        };
        let timer = match &mut self.timer {
            Some(t) => {
                // Usually later than the timer's: it moves on when it fires.
                if until < t.deadline() {
                    t.as_mut().reset(until);
                }
                t
            }
            None => self.timer.insert(Box::pin(tokio::time::sleep_until(until))),
        };
        let body = &mut self.body;
        std::future::poll_fn(|cx| {
            if let Poll::Ready(item) = body.as_mut().poll_next(cx) {
                return Poll::Ready(match item {
                    None => Ok(None),
                    Some(Ok(bytes)) => Ok(Some(bytes)),
                    Some(Err(e)) => Err(Failure::Connect {
                        message: format!("stream broke: body error: {e}"),
                    }),
                });
            }
            while timer.as_mut().poll(cx).is_ready() {
                if Instant::now() >= until {
                    return Poll::Ready(Err(Failure::Timeout { phase, after }));
                }
                timer.as_mut().reset(until);
            }
            Poll::Pending
        })
        .await
    }
}

/// `event: <name>\ndata: <data>\n\n`, as upstream sent it (data with newlines
/// becomes several `data:` lines).
pub fn encode(event: Option<&str>, data: &str, out: &mut BytesMut) {
    out.reserve(data.len() + 32);
    if let Some(name) = event {
        out.put_slice(b"event: ");
        out.put_slice(name.as_bytes());
        out.put_u8(b'\n');
    }
    for line in data.split('\n') {
        out.put_slice(b"data: ");
        out.put_slice(line.as_bytes());
        out.put_u8(b'\n');
    }
    out.put_u8(b'\n');
}

pub const DONE: &[u8] = b"data: [DONE]\n\n";

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = "event: response.created\r\ndata: {\"type\":\"response.created\"}\r\n\r\n: keep-alive\n\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"h\\u00e9\"}\n\nevent: x\ndata: line1\ndata: line2\n\n";

    async fn decode(chunks: Vec<Bytes>) -> Vec<(Option<String>, String)> {
        let s = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
        let mut es = EventStream::new(s);
        let mut out = Vec::new();
        while let Ok(Some(e)) = es.next(Duration::from_secs(5)).await {
            out.push((
                e.event.map(str::to_owned),
                e.data.unwrap_or_default().to_owned(),
            ));
        }
        out
    }

    #[tokio::test]
    async fn decodes_split_at_every_byte_boundary() {
        let whole = decode(vec![Bytes::from_static(STREAM.as_bytes())]).await;
        assert_eq!(whole.len(), 3);
        assert_eq!(whole[0].0.as_deref(), Some("response.created"));
        assert_eq!(whole[2].1, "line1\nline2");
        let bytes = STREAM.as_bytes();
        for cut in 1..bytes.len() {
            let parts = vec![
                Bytes::copy_from_slice(&bytes[..cut]),
                Bytes::copy_from_slice(&bytes[cut..]),
            ];
            assert_eq!(decode(parts).await, whole, "split at byte {cut}");
        }
        let singles = bytes
            .iter()
            .map(|b| Bytes::copy_from_slice(&[*b]))
            .collect();
        assert_eq!(decode(singles).await, whole, "one byte at a time");
    }

    #[tokio::test]
    async fn multibyte_utf8_split_inside_a_character() {
        let text = "data: {\"delta\":\"日本\"}\n\n".as_bytes();
        let cut = text.iter().position(|b| *b >= 0x80).unwrap_or(0) + 1;
        let got = decode(vec![
            Bytes::copy_from_slice(&text[..cut]),
            Bytes::copy_from_slice(&text[cut..]),
        ])
        .await;
        assert_eq!(got[0].1, "{\"delta\":\"日本\"}");
    }

    #[tokio::test(start_paused = true)]
    async fn silence_longer_than_idle_is_a_timeout() {
        let s = futures_util::stream::pending::<Result<Bytes, std::io::Error>>();
        let mut es = EventStream::new(s);
        let r = es.next(Duration::from_secs(300)).await;
        assert!(matches!(r, Err(Failure::Timeout { .. })));
    }

    #[tokio::test]
    async fn an_event_that_never_ends_fails_cleanly_instead_of_growing() {
        // `data: ` and then `x` forever, never a newline.
        let endless = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(
            b"data: {\"type\":\"response.created\"}\n\ndata: ",
        ))])
        .chain(futures_util::stream::repeat_with(|| {
            Ok(Bytes::from_static(&[b'x'; 1024]))
        }));
        let mut es = EventStream::with_event_limit(endless, 64 * 1024);
        let first = es.next(Duration::from_secs(5)).await;
        assert!(matches!(first, Ok(Some(_))), "{first:?}");
        let r = tokio::time::timeout(Duration::from_secs(5), es.next(Duration::from_secs(5))).await;
        let Ok(Err(Failure::StreamFailed {
            code: None,
            message,
        })) = r
        else {
            panic!("expected a stream failure, got {r:?}");
        };
        assert!(message.contains("larger than 65536 bytes"), "{message}");
        assert!(
            matches!(es.next(Duration::from_secs(5)).await, Ok(None)),
            "the stream ends"
        );
    }

    #[tokio::test]
    async fn events_under_the_limit_pass_whole_in_any_chunking() {
        let big = format!("data: {{\"delta\":\"{}\"}}\n\n", "y".repeat(60 * 1024));
        let stream = format!("{big}{big}{STREAM}");
        let chunks: Vec<_> = stream
            .as_bytes()
            .chunks(777)
            .map(|c| Ok::<_, std::io::Error>(Bytes::copy_from_slice(c)))
            .collect();
        let mut es = EventStream::with_event_limit(futures_util::stream::iter(chunks), 64 * 1024);
        let mut n = 0;
        while let Some(e) = es
            .next(Duration::from_secs(5))
            .await
            .unwrap_or_else(|f| panic!("{f}"))
        {
            assert!(e.data.is_some());
            n += 1;
        }
        assert!(es.decoder.held() <= 2 * 64 * 1024);
        assert_eq!(n, 5);
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_ends_a_stream_that_never_finishes() {
        // Something every second (a data-less block, a progress event): the
        // idle timeout never fires.
        let busy = futures_util::stream::unfold(0u32, |n| async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let block: &'static [u8] = if n % 2 == 0 {
                b"event: ping\n\n"
            } else {
                b"data: {\"type\":\"response.in_progress\"}\n\n"
            };
            Some((Ok::<_, std::io::Error>(Bytes::from_static(block)), n + 1))
        });
        let mut es = EventStream::new(busy);
        es.set_deadline(Duration::from_secs(60));
        let started = Instant::now();
        let r = loop {
            match es.next(Duration::from_secs(5)).await {
                Ok(Some(_)) => continue,
                r => break r,
            }
        };
        assert!(
            matches!(r, Err(Failure::Timeout { phase: "for the whole answer", after })
                if after == Duration::from_secs(60)),
            "{r:?}"
        );
        assert_eq!(started.elapsed().as_secs(), 60);
    }

    #[test]
    fn encode_round_trips_multiline_data() {
        let mut out = BytesMut::new();
        encode(Some("response.created"), "a\nb", &mut out);
        assert_eq!(&out[..], b"event: response.created\ndata: a\ndata: b\n\n");
    }
}

#[cfg(test)]
mod timer_tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn comments_and_pieces_of_an_event_do_not_keep_the_stream_alive() {
        // A comment every second, then an event that never ends, a byte a second.
        let trickle = futures_util::stream::unfold(0u32, |n| async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let block: &'static [u8] = if n < 3 { b": keep-alive\n\n" } else { b"x" };
            Some((Ok::<_, std::io::Error>(Bytes::from_static(block)), n + 1))
        });
        let mut es = EventStream::new(trickle);
        let started = Instant::now();
        let r = es.next(Duration::from_secs(10)).await;
        assert!(
            matches!(
                r,
                Err(Failure::Timeout {
                    phase: "between stream events",
                    ..
                })
            ),
            "{r:?}"
        );
        assert_eq!(started.elapsed().as_secs(), 10);
        assert!(matches!(es.next(Duration::from_secs(10)).await, Ok(None)));
    }

    #[tokio::test(start_paused = true)]
    async fn each_wait_gets_the_whole_idle_time() {
        // Events 4 s apart under a 5 s idle timeout: none times out, though
        // the one timer was first set for 5 s after the start.
        let slow = futures_util::stream::unfold(0u32, |n| async move {
            if n == 5 {
                return None;
            }
            tokio::time::sleep(Duration::from_secs(4)).await;
            Some((
                Ok::<_, std::io::Error>(Bytes::from_static(b"data: {}\n\n")),
                n + 1,
            ))
        });
        let mut es = EventStream::new(slow);
        let mut n = 0;
        while let Some(e) = es
            .next(Duration::from_secs(5))
            .await
            .unwrap_or_else(|f| panic!("{f}"))
        {
            assert_eq!(e.data, Some("{}"));
            n += 1;
        }
        assert_eq!(n, 5);
    }
}
