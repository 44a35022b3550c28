use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};

use super::*;

/// Every event with data, as (name, data), from `chunks` fed in order.
fn decode(chunks: &[&[u8]]) -> Vec<(Option<String>, String)> {
    let mut d = Decoder::new(usize::MAX);
    let mut out = Vec::new();
    for chunk in chunks {
        d.feed(chunk);
        while let Some(found) = d.scan() {
            let (name, data) = d.event(found).unwrap();
            out.push((name.map(str::to_owned), data.to_owned()));
        }
    }
    out
}

/// What `sse-stream` (the decoder this one replaced) makes of the same
/// bytes: the events with data.
fn reference(bytes: &[u8]) -> Vec<(Option<String>, String)> {
    let chunks =
        futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::copy_from_slice(bytes))]);
    let events = sse_stream::SseByteStream::new(chunks)
        .collect::<Vec<_>>()
        .now_or_never()
        .unwrap_or_default();
    events
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|e| Some((e.event, e.data?)))
        .collect()
}

const STREAMS: &[&str] = &[
    "event: response.created\r\ndata: {\"type\":\"response.created\"}\r\n\r\n: keep-alive\n\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"h\\u00e9\"}\n\nevent: x\ndata: line1\ndata: line2\n\n",
    "data:no space\r\rdata:  two spaces\r\r",
    "data\n\ndata:\n\ndata: a\ndata\ndata: c\n\n",
    "\u{feff}data: after a byte-order mark\n\n",
    "id: 7\nretry: 100\nevent: only metadata\n\ndata: x\nunknown: y\nevent:\n\n",
    ": comment\r\n:another\r\ndata: {\"a\":1}\r\n\r\nevent: a\nevent: b\ndata: last name wins\n\n",
    "data: 日本語 and é\n\ndata: cut at the end without a blank line",
    "\n\n\r\n\rdata: after blank lines\r\n\r\n",
];

#[test]
fn decodes_what_the_replaced_decoder_decoded_split_anywhere() {
    for stream in STREAMS {
        let bytes = stream.as_bytes();
        let want = reference(bytes);
        assert!(!want.is_empty(), "{stream:?}");
        assert_eq!(decode(&[bytes]), want, "{stream:?} whole");
        for cut in 1..bytes.len() {
            assert_eq!(
                decode(&[&bytes[..cut], &bytes[cut..]]),
                want,
                "{stream:?} split at {cut}"
            );
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(decode(&singles), want, "{stream:?} one byte at a time");
        let threes: Vec<&[u8]> = bytes.chunks(3).collect();
        assert_eq!(decode(&threes), want, "{stream:?} three bytes at a time");
    }
}

#[test]
fn one_data_line_is_a_slice_of_the_buffer() {
    let mut d = Decoder::new(usize::MAX);
    d.feed(b"event: e\ndata: {\"a\":1}\n\n");
    let found = d.scan().unwrap();
    assert_eq!(found.data, Data::Line(15..22));
    assert_eq!(d.event(found).unwrap(), (Some("e"), "{\"a\":1}"));
    assert!(d.joined.capacity() == 0, "nothing joined");
}

#[test]
fn text_that_is_not_utf8_fails() {
    let mut d = Decoder::new(usize::MAX);
    d.feed(b"data: \xff\n\n");
    let found = d.scan().unwrap();
    assert!(d.event(found).is_err());
    assert!(d.failed());
}

#[test]
fn the_size_of_the_event_in_progress_is_bounded_and_a_large_buffer_is_given_back() {
    let mut d = Decoder::new(1000);
    d.feed(&[b'x'; 600]);
    assert!(d.scan().is_none());
    assert_eq!(d.check_size(), Ok(()));
    d.feed(&[b'x'; 600]);
    assert_eq!(d.check_size(), Err(TooLarge { limit: 1000 }));

    let mut d = Decoder::new(usize::MAX);
    let big = format!("data: {}\n\n", "y".repeat(200 * 1024));
    d.feed(big.as_bytes());
    assert!(d.scan().is_some());
    assert!(d.scan().is_none());
    d.feed(b"data: small\n\n");
    assert!(d.held() <= KEEP_CAPACITY, "{}", d.held());
    let found = d.scan().unwrap();
    assert_eq!(d.event(found).unwrap().1, "small");
}
