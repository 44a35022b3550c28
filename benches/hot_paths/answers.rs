//! A whole upstream stream collected and rendered as one JSON answer, as a
//! client that did not stream gets it: per event one parse and
//! `Collector::push`, then each dialect's answer (`chat::answer`,
//! `anthropic::answer`, `responses::answer`) serialized into its body.

use std::hint::black_box;

use codex_pool::translate::anthropic::Shape;
use codex_pool::translate::{anthropic, chat, responses, Collector};
use codex_pool::upstream::events::Event;
use criterion::{Criterion, Throughput};
use serde_json::json;

use crate::mock;

/// The mock's answer (reasoning, two text deltas, the items, a completed
/// response that repeats the output), as `data:` payloads.
fn small_answer() -> Vec<String> {
    let mut events = mock::text_events("gpt-5.4", &["The capital", " is Paris."]);
    // Upstream's final response carries the output again, as the backend's does.
    if let Some(last) = events.last_mut() {
        last["response"]["output"] = json!([
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Thinking briefly."}], "encrypted_content": "enc"},
            {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed", "content": [{"type": "output_text", "text": "The capital is Paris.", "annotations": []}]},
        ]);
    }
    events.iter().map(|e| e.to_string()).collect()
}

/// A 200-delta text answer (`chat_stream`'s), collected.
fn long_answer() -> Vec<String> {
    crate::chat_stream::text_stream(200)
}

fn collect(events: &[String]) -> Collector {
    let mut c = Collector::default();
    for data in events {
        if let Ok(event) = Event::parse(data) {
            if c.push(&event).expect("no failure") {
                break;
            }
        }
    }
    c
}

pub fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("answer");
    for (name, events) in [
        ("small", small_answer()),
        ("text_200_deltas", long_answer()),
    ] {
        let collected = collect(&events);
        g.throughput(Throughput::Elements(1));
        g.bench_function(format!("collect/{name}"), |b| {
            b.iter(|| collect(black_box(&events)))
        });
        g.bench_function(format!("chat/{name}"), |b| {
            b.iter(|| chat::answer(black_box(&collected), "gpt-5.4", 1_700_000_000))
        });
        let shape = Shape::default();
        g.bench_function(format!("anthropic/{name}"), |b| {
            b.iter(|| anthropic::answer(black_box(&collected), "gpt-5.4", &shape))
        });
        g.bench_function(format!("responses/{name}"), |b| {
            b.iter(|| responses::answer(black_box(&collected), "gpt-5.4"))
        });
    }
    g.finish();
}
