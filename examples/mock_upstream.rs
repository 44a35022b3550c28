//! The test mock upstream and OAuth issuer as a standalone server on loopback,
//! for the OpenAI SDK test, the Prometheus checks and the load benchmarks.
//!
//! `cargo run --example mock_upstream -- [--port N] [--deltas N] [--delay-ms N]
//! [--bash-command CMD]` prints `listening on 127.0.0.1:PORT` and serves
//! until killed. With `--bash-command`, a request offering a `Bash` tool is
//! answered with a call running CMD, and the turn after its output with text
//! quoting it (the Claude Code check, `scripts/check-claude-code.sh`).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

#[path = "../tests/common/mock.rs"]
mod mock;

use std::time::Duration;

#[tokio::main]
async fn main() {
    let mut port: u16 = 0;
    let mut deltas: usize = 2;
    let mut delay_ms: u64 = 0;
    let mut bash: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_default();
        match a.as_str() {
            "--port" => port = v.parse().expect("--port N"),
            "--deltas" => deltas = v.parse().expect("--deltas N"),
            "--delay-ms" => delay_ms = v.parse().expect("--delay-ms N"),
            "--bash-command" => bash = Some(v),
            other => panic!("unknown argument {other}"),
        }
    }
    let m = mock::Mock::start_on(port).await;
    m.set_default_stream(deltas, Duration::from_millis(delay_ms));
    if let Some(cmd) = &bash {
        m.set_bash_command(cmd);
    }
    // Nobody can read the records of a standalone server; keeping them would
    // grow its memory with every request of a load test.
    m.set_record(false);
    println!("listening on {}", m.addr);
    tokio::signal::ctrl_c().await.ok();
}
