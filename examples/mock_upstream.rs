//! The test mock upstream and OAuth issuer as a standalone server on loopback,
//! for the SDK tests, the client checks, the Prometheus checks and the load
//! benchmarks; and the writer of fake logins those scripts use.
//!
//! `cargo run --example mock_upstream -- [--port N] [--deltas N] [--delay-ms N]
//! [--record] [--bash-command CMD] [--date-skew SECONDS]` prints `listening on 127.0.0.1:PORT` and
//! serves until killed. With `--record` it keeps every request and shows them
//! at `GET /mock/seen` (for scripts that assert on what reached the upstream).
//! With `--bash-command`, a request offering a `Bash` tool is answered with a
//! call running CMD, and the turn after its output with text quoting it (the
//! Claude Code check, `scripts/check-claude-code.sh`). A request forcing the
//! `image_generation` tool gets a real small PNG; `--refuse-images ACCOUNT`
//! (repeatable) answers it for that account as the backend does for a plan
//! without images. `--date-skew SECONDS` sets every answer's `Date` that far
//! off the true time (ahead when positive), so `codex-pool doctor` can be
//! shown a skewed clock.
//!
//! `mock_upstream --write-login PATH --account ID [--expires-in SECONDS]`
//! writes a Codex `auth.json` (mode 0600) for account ID whose access token
//! expires in SECONDS (default 3600), and exits: the login the gateway under
//! test serves.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "a test tool"
)]

#[path = "../tests/it/support/mock/mod.rs"]
mod mock;

use std::path::PathBuf;
use std::time::Duration;

#[derive(Default)]
struct Args {
    port: u16,
    deltas: Option<usize>,
    delay_ms: u64,
    record: bool,
    bash: Option<String>,
    write_login: Option<PathBuf>,
    account: Option<String>,
    expires_in: Option<i64>,
    no_images: Vec<String>,
    date_skew: Option<i64>,
}

fn parse() -> Args {
    let mut a = Args::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--record" {
            a.record = true;
            continue;
        }
        let v = args
            .next()
            .unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => a.port = v.parse().expect("--port N"),
            "--deltas" => a.deltas = Some(v.parse().expect("--deltas N")),
            "--delay-ms" => a.delay_ms = v.parse().expect("--delay-ms N"),
            "--bash-command" => a.bash = Some(v),
            "--refuse-images" => a.no_images.push(v),
            "--date-skew" => a.date_skew = Some(v.parse().expect("--date-skew SECONDS")),
            "--write-login" => a.write_login = Some(PathBuf::from(v)),
            "--account" => a.account = Some(v),
            "--expires-in" => a.expires_in = Some(v.parse().expect("--expires-in SECONDS")),
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

#[tokio::main]
async fn main() {
    let args = parse();
    if let Some(path) = &args.write_login {
        let account = args
            .account
            .as_deref()
            .expect("--write-login needs --account ID");
        let access = mock::login::access_token(account, args.expires_in.unwrap_or(3600));
        mock::login::write(path, account, &access, &format!("rt-{account}"))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        return;
    }
    let m = mock::Mock::start_on(args.port).await;
    m.set_default_stream(
        args.deltas.unwrap_or(2),
        Duration::from_millis(args.delay_ms),
    );
    if let Some(cmd) = &args.bash {
        m.set_bash_command(cmd);
    }
    if let Some(secs) = args.date_skew {
        m.skew_date(secs);
    }
    for account in &args.no_images {
        m.refuse_images(account);
    }
    // Records only when asked: a load test would grow its memory with every
    // request.
    m.set_record(args.record);
    println!("listening on {}", m.addr);
    tokio::signal::ctrl_c().await.ok();
}
