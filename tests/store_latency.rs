//! What the shared store adds to a request, on loopback: the same gateway
//! (in process, against the mock) with and without `[store]`, a client key
//! with a rate (one GCRA round trip per request) and a conversation under
//! round_robin (its account shared once, then read from the local table).
//! Prints p50/p90/p99 of each and the difference; BENCHMARKS.md records a
//! run. Ignored by default (timing): run it with
//! `cargo test --release --test store_latency -- --ignored --nocapture`.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;
#[path = "common/redis.rs"]
mod redis_server;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::*;
use redis_server::Redis;

const N: usize = 2000;

async fn measure(gw: &Gateway) -> Vec<Duration> {
    let client = gw.client();
    let body = serde_json::json!({"model": "gpt-5.4", "prompt_cache_key": "bench",
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}]})
    .to_string();
    let mut out = Vec::with_capacity(N);
    for i in 0..N + 200 {
        let t = Instant::now();
        let r = client
            .post(gw.url("/v1/responses"))
            .bearer_auth("sk-bench-123456")
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
    let key_dir = tempfile::tempdir().unwrap();
    let key = key_dir.path().join("store.key");
    std::fs::write(&key, codex_pool::seal::Key::generate().unwrap()).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let base = "[pool]\nstrategy = \"round_robin\"\n[[api_keys]]\nname = \"bench\"\nkey = \"sk-bench-123456\"\nrequests_per_minute = 100000000\n";
    let store = format!(
        "[store]\nredis_url = \"{}\"\nencryption_key_file = \"{}\"\n",
        redis.url(),
        key.display()
    );
    let memory = Gateway::start(&mock, &["a", "b"], base).await;
    mock.set_record(false);
    let mem = measure(&memory).await;
    memory.stop().await;
    let shared = Gateway::start(&mock, &["a", "b"], &format!("{store}{base}")).await;
    for _ in 0..100 {
        if shared.app.store.as_ref().is_some_and(|s| s.is_up()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let red = measure(&shared).await;
    // The store call alone: one GCRA round trip.
    let store = shared.app.store.clone().unwrap();
    let mut calls = Vec::with_capacity(N);
    for _ in 0..N {
        let t = Instant::now();
        store.take_rate("bench-direct", 100_000_000).await.unwrap();
        calls.push(t.elapsed());
    }
    calls.sort();
    shared.stop().await;
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
        "GCRA call alone: p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms",
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
