//! The test mock upstream and OAuth issuer as a standalone server on loopback,
//! for the OpenAI SDK test, the Prometheus checks and the load benchmarks.
//!
//! `cargo run --example mock_upstream -- [--port N] [--deltas N] [--delay-ms N]
//! [--record] [--bash-command CMD]` prints `listening on 127.0.0.1:PORT` and
//! serves until killed. With `--record` it keeps every request and shows them
//! at `GET /mock/seen` (for scripts that assert on what reached the upstream).
//! With `--bash-command`, a request offering a `Bash` tool is answered with a
//! call running CMD, and the turn after its output with text quoting it (the
//! Claude Code check, `scripts/check-claude-code.sh`). A request forcing the
//! `image_generation` tool gets a real small PNG; `--refuse-images ACCOUNT`
//! (repeatable) answers it for that account as the backend does for a plan
//! without images.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

#[path = "../tests/common/mock.rs"]
mod mock;

use std::time::Duration;

#[tokio::main]
async fn main() {
    let mut port: u16 = 0;
    let mut deltas: usize = 2;
    let mut delay_ms: u64 = 0;
    let mut record = false;
    let mut bash: Option<String> = None;
    let mut no_images: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--record" {
            record = true;
            continue;
        }
        let v = args.next().unwrap_or_default();
        match a.as_str() {
            "--port" => port = v.parse().expect("--port N"),
            "--deltas" => deltas = v.parse().expect("--deltas N"),
            "--delay-ms" => delay_ms = v.parse().expect("--delay-ms N"),
            "--bash-command" => bash = Some(v),
            "--refuse-images" => no_images.push(v),
            other => panic!("unknown argument {other}"),
        }
    }
    let m = mock::Mock::start_on(port).await;
    m.set_default_stream(deltas, Duration::from_millis(delay_ms));
    if let Some(cmd) = &bash {
        m.set_bash_command(cmd);
    }
    for account in &no_images {
        m.refuse_images(account);
    }
    // Records only when asked: a load test would grow its memory with every
    // request.
    m.set_record(record);
    println!("listening on {}", m.addr);
    tokio::signal::ctrl_c().await.ok();
}
