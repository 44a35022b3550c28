//! Micro-benchmarks of the gateway's per-request and per-event hot paths.
//!
//! One bench binary (one link) with a module per path:
//! - `translate`: Chat Completions request → codex-responses body (parse + translate);
//! - `chat_stream`: Responses stream events → `chat.completion.chunk` frames (events/s);
//! - `answers`: a whole stream collected and rendered as each dialect's JSON answer;
//! - `sse`: decoding upstream's SSE bytes into events, split at awkward boundaries (MB/s);
//! - `pool`: `Pool::plan` for 1/16/128 accounts and each strategy.
//!
//! `cargo bench` runs them all (about two minutes); `cargo bench -- pool` runs one.
//! The load benchmark of the whole gateway is `scripts/bench.sh`; results of both
//! are in BENCHMARKS.md.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../tests/it/support/mock/mod.rs"]
mod mock;

mod answers;
mod chat_stream;
mod pool;
mod sse;
mod translate;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};

/// Short runs: the whole suite stays within a few minutes on a 2-core machine.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(40)
}

criterion_group! {
    name = hot_paths;
    config = config();
    targets = translate::bench, chat_stream::bench, answers::bench, sse::bench, pool::bench
}
criterion_main!(hot_paths);
