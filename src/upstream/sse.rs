//! Server-sent events: decoding upstream's stream and encoding ours.
//!
//! Decoding is `sse-stream`'s spec-following parser (chunk boundaries, CR/LF,
//! comments); this module adds what bounds it (an idle timeout, an optional
//! overall deadline, a maximum event size) and the few encoders we need.

use std::pin::Pin;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use sse_stream::{Sse, SseByteStream};
use tokio::time::Instant;

use super::Failure;

mod size;

use size::{EventSize, TooLarge};

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

type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// Upstream's events, one `Sse` (event name + data) at a time.
pub struct EventStream {
    inner: SseByteStream<ByteStream>,
    /// When the whole stream must be over, and the span that was allowed.
    deadline: Option<(Instant, Duration)>,
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
        let mut size = EventSize::new(limit);
        let mapped = bytes.map(move |r| match r {
            Ok(chunk) => match size.feed(&chunk) {
                Ok(()) => Ok(chunk),
                Err(too_large) => Err(std::io::Error::other(too_large)),
            },
            Err(e) => Err(std::io::Error::other(e.to_string())),
        });
        EventStream {
            inner: SseByteStream::new(Box::pin(mapped) as ByteStream),
            deadline: None,
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

    /// The next event with data; `Ok(None)` at the end of the stream.
    pub async fn next(&mut self, idle: Duration) -> Result<Option<Sse>, Failure> {
        loop {
            let idle_end = Instant::now() + idle;
            let (until, phase, after) = match self.deadline {
                Some((end, total)) if end < idle_end => (end, "for the whole answer", total),
                _ => (idle_end, "between stream events", idle),
            };
            match tokio::time::timeout_at(until, self.inner.next()).await {
                Err(_) => return Err(Failure::Timeout { phase, after }),
                Ok(None) => return Ok(None),
                Ok(Some(Err(e))) => return Err(broken(&e)),
                Ok(Some(Ok(sse))) if sse.data.is_some() => return Ok(Some(sse)),
                Ok(Some(Ok(_))) => continue,
            }
        }
    }
}

/// A decoding error as a failure: an oversized event is upstream's stream
/// failing (and says so); anything else is the connection breaking.
fn broken(e: &sse_stream::Error) -> Failure {
    let too_large = match e {
        sse_stream::Error::Body(inner) => inner
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .and_then(|i| i.downcast_ref::<TooLarge>()),
        _ => None,
    };
    match too_large {
        Some(t) => Failure::StreamFailed {
            code: None,
            message: t.to_string(),
        },
        None => Failure::Connect {
            message: format!("stream broke: {e}"),
        },
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
            out.push((e.event, e.data.unwrap_or_default()));
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
