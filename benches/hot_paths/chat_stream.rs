//! Responses stream events → `chat.completion.chunk` frames, as the chat relay
//! does it: one `ChatStream` per stream; per event, one parse and `convert`
//! into a fresh buffer.

use std::hint::black_box;

use bytes::BytesMut;
use codex_pool::translate::chat::ChatStream;
use codex_pool::translate::{Convert, Step};
use codex_pool::upstream::events::{Event, Relayed};
use criterion::{Criterion, Throughput};

use crate::mock;

/// A text answer of `deltas` deltas (mixed ASCII and multi-byte text), with the
/// lifecycle, reasoning and completion events around it: the `data:` payloads.
pub fn text_stream(deltas: usize) -> Vec<String> {
    let parts: Vec<String> = (0..deltas)
        .map(|i| match i % 3 {
            0 => format!(" word{i}"),
            1 => " café".to_string(),
            _ => " 日本語".to_string(),
        })
        .collect();
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    mock::text_events("gpt-5.4", &refs)
        .iter()
        .map(|e| e.to_string())
        .collect()
}

/// A function call whose arguments arrive in `deltas` pieces.
fn tool_stream(deltas: usize) -> Vec<String> {
    let args = format!(
        "{{\"path\":\"src/{}.rs\"}}",
        "module/".repeat(deltas.max(2))
    );
    let mut events = mock::tool_call_events("gpt-5.4", "read_file", &args, false);
    let done = events.split_off(2);
    let step = args.len().div_ceil(deltas);
    for piece in args.as_bytes().chunks(step) {
        let piece = std::str::from_utf8(piece).expect("ascii arguments");
        events.push(
            serde_json::json!({"type": "response.function_call_arguments.delta",
            "item_id": "fc_1", "output_index": 0, "delta": piece}),
        );
    }
    events.extend(done);
    events.iter().map(|e| e.to_string()).collect()
}

fn convert(events: &[String]) -> usize {
    let mut conv = ChatStream::new("gpt-5.4", 1_700_000_000, true);
    let mut bytes = 0;
    for data in events {
        let mut out = BytesMut::new();
        let event = Event::parse(data).ok();
        let relayed = Relayed {
            name: None,
            data,
            event: event.as_ref(),
        };
        match conv.convert(relayed, &mut out) {
            Step::Continue | Step::Done => bytes += out.len(),
            Step::Failed(f) => panic!("stream failed: {f:?}"),
        }
    }
    bytes
}

pub fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("chat_stream");
    for (name, events) in [
        ("text_200_deltas", text_stream(200)),
        ("tool_call_50_deltas", tool_stream(50)),
    ] {
        g.throughput(Throughput::Elements(events.len() as u64));
        g.bench_function(name, |b| b.iter(|| convert(black_box(&events))));
    }
    g.finish();
}
