//! What the shared store adds to a request, on loopback: the same gateway
//! (in process, against the mock) with and without `[store]`, a client key
//! with a rate (one GCRA round trip per request) and a conversation under
//! round_robin (its account shared once, then read from the local table).
//! Prints p50/p90/p99 of each, the difference, and one Redis round trip
//! alone (`PING`: the floor of any store call); BENCHMARKS.md records a run.
//!
//! A benchmark, not a test: it asserts only that every request is served, so
//! it is ignored by default. Run it with
//! `cargo test --release --test it store_latency -- --ignored --nocapture`.
//! It stays in this crate (not `benches/`) because it needs the gateway
//! builder, the mock and the Redis of `support/`, which a bench target could
//! only reach by including them again.

use std::time::{Duration, Instant};

use crate::support::redis_server::Redis;
use crate::support::*;

const N: usize = 2000;

async fn measure(gw: &Gateway) -> Vec<Duration> {
    let client = gw.client();
    let key = key_for("bench");
    let body = serde_json::json!({"model": "gpt-5.4", "prompt_cache_key": "bench",
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}]})
    .to_string();
    let mut out = Vec::with_capacity(N);
    for i in 0..N + 200 {
        let t = Instant::now();
        let r = client
            .post(gw.url("/v1/responses"))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        r.bytes().await.unwrap();
        // The first 200 warm connections and caches.
        if i >= 200 {
            out.push(t.elapsed());
        }
    }
    out.sort();
    out
}

fn pct(v: &[Duration], p: f64) -> f64 {
    v[((v.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "timing; run with --ignored --nocapture"]
async fn added_latency_of_the_shared_store() {
    let redis = Redis::start().await;
    let mock = Mock::start().await;
    let keys = tempfile::tempdir().unwrap();
    let key = cli::store_key(keys.path());
    let base = |mock: &Mock| {
        Gateway::builder(mock)
            .accounts(&["a", "b"])
            .key("bench", |k| k.rpm(100_000_000))
            .toml("[pool]\nstrategy = \"round_robin\"")
    };
    let memory = base(&mock).start().await;
    mock.set_record(false);
    let mem = measure(&memory).await;
    memory.stop().await;
    let shared = base(&mock).store(&redis.url(), &key).start().await;
    shared.store_up().await;
    let red = measure(&shared).await;
    shared.stop().await;
    // One round trip alone: what any store call costs at least.
    let mut conn = redis.conn().await;
    let mut calls = Vec::with_capacity(N);
    for _ in 0..N {
        let t = Instant::now();
        let _: String = redis::cmd("PING").query_async(&mut conn).await.unwrap();
        calls.push(t.elapsed());
    }
    calls.sort();
    println!(
        "requests: {N} sequential, /v1/responses, rate-limited key, one conversation (round_robin)"
    );
    for (name, v) in [("in-memory", &mem), ("redis", &red)] {
        println!(
            "{name:>10}: p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms",
            pct(v, 0.5),
            pct(v, 0.9),
            pct(v, 0.99)
        );
    }
    println!(
        "Redis PING alone: p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms",
        pct(&calls, 0.5),
        pct(&calls, 0.9),
        pct(&calls, 0.99)
    );
    println!(
        "     added: p50 {:+.3} ms  p90 {:+.3} ms  p99 {:+.3} ms",
        pct(&red, 0.5) - pct(&mem, 0.5),
        pct(&red, 0.9) - pct(&mem, 0.9),
        pct(&red, 0.99) - pct(&mem, 0.99)
    );
}
