//! Decoding upstream's SSE bytes into events (`upstream::sse::EventStream`), with
//! the stream split at awkward places: tiny chunks, network-sized chunks, and
//! cuts inside every multi-byte UTF-8 character.

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use codex_pool::upstream::sse::EventStream;
use criterion::{Criterion, Throughput};

use crate::mock;

/// The whole stream of a 200-delta text answer, as upstream sends it.
fn stream_bytes() -> Vec<u8> {
    let events: Vec<serde_json::Value> = crate::chat_stream::text_stream(200)
        .iter()
        .map(|d| serde_json::from_str(d).expect("event json"))
        .collect();
    mock::sse_bytes(&events).concat()
}

fn fixed_chunks(all: &[u8], size: usize) -> Vec<Bytes> {
    all.chunks(size).map(Bytes::copy_from_slice).collect()
}

/// Cut after the first byte of every multi-byte character.
fn utf8_split_chunks(all: &[u8]) -> Vec<Bytes> {
    let text = std::str::from_utf8(all).expect("utf-8 stream");
    let mut cuts: Vec<usize> = text
        .char_indices()
        .filter(|(_, c)| c.len_utf8() > 1)
        .map(|(i, _)| i + 1)
        .collect();
    cuts.push(all.len());
    let mut start = 0;
    cuts.into_iter()
        .map(|end| {
            let b = Bytes::copy_from_slice(&all[start..end]);
            start = end;
            b
        })
        .collect()
}

async fn decode(chunks: Vec<Bytes>) -> usize {
    let mut events = EventStream::new(futures_util::stream::iter(
        chunks.into_iter().map(Ok::<_, Infallible>),
    ));
    let mut n = 0;
    while let Some(e) = events
        .next(Duration::from_secs(300))
        .await
        .expect("decodes")
    {
        n += e.data.map_or(0, |d| d.len());
    }
    n
}

pub fn bench(c: &mut Criterion) {
    // `next` applies tokio's idle timeout: it needs a runtime with a timer.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let all = stream_bytes();
    let reference = rt.block_on(decode(vec![Bytes::copy_from_slice(&all)]));
    assert!(reference > 0, "nothing decoded");
    let mut g = c.benchmark_group("sse_decode");
    g.throughput(Throughput::Bytes(all.len() as u64));
    for (name, chunks) in [
        ("one_chunk", vec![Bytes::copy_from_slice(&all)]),
        ("1000_byte_chunks", fixed_chunks(&all, 1000)),
        ("7_byte_chunks", fixed_chunks(&all, 7)),
        ("cut_inside_utf8", utf8_split_chunks(&all)),
    ] {
        let decoded = rt.block_on(decode(chunks.clone()));
        assert_eq!(decoded, reference, "{name}: decodes differently");
        g.bench_function(name, |b| {
            b.iter(|| rt.block_on(decode(black_box(chunks.clone()))))
        });
    }
    g.finish();
}
