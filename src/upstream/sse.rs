//! Server-sent events: decoding upstream's stream and encoding ours.
//!
//! Decoding is `sse-stream`'s spec-following parser (chunk boundaries, CR/LF,
//! comments); this module adds the idle timeout and the few encoders we need.

use std::pin::Pin;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use sse_stream::{Sse, SseByteStream};

use super::Failure;

type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// Upstream's events, one `Sse` (event name + data) at a time.
pub struct EventStream {
    inner: SseByteStream<ByteStream>,
}

impl EventStream {
    pub fn new<S, E>(bytes: S) -> EventStream
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: std::fmt::Display,
    {
        let mapped = bytes.map(|r| r.map_err(|e| std::io::Error::other(e.to_string())));
        EventStream {
            inner: SseByteStream::new(Box::pin(mapped) as ByteStream),
        }
    }

    pub fn from_response(response: reqwest::Response) -> EventStream {
        EventStream::new(response.bytes_stream())
    }

    /// The next event with data; `Ok(None)` at the end of the stream.
    pub async fn next(&mut self, idle: Duration) -> Result<Option<Sse>, Failure> {
        loop {
            match tokio::time::timeout(idle, self.inner.next()).await {
                Err(_) => {
                    return Err(Failure::Timeout {
                        phase: "between stream events",
                        after: idle,
                    })
                }
                Ok(None) => return Ok(None),
                Ok(Some(Err(e))) => {
                    return Err(Failure::Connect {
                        message: format!("stream broke: {e}"),
                    })
                }
                Ok(Some(Ok(sse))) if sse.data.is_some() => return Ok(Some(sse)),
                Ok(Some(Ok(_))) => continue,
            }
        }
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

    #[test]
    fn encode_round_trips_multiline_data() {
        let mut out = BytesMut::new();
        encode(Some("response.created"), "a\nb", &mut out);
        assert_eq!(&out[..], b"event: response.created\ndata: a\ndata: b\n\n");
    }
}
