//! `codex-pool doctor` (the real binary) against a healthy setup (exit 0)
//! and broken ones (exit 1, the broken check named with what to do), never
//! printing a token, a key or a password; `--json` carries the same checks.
//!
//! - `setups.rs`: healthy; a bad login, unreachable upstream, a skewed
//!   clock, the Codex CLI pointed elsewhere.

mod setups;

use std::path::Path;

use crate::support::*;

/// `codex-pool doctor ARGS… --config CONFIG`, the Codex CLI's home `home`,
/// run off the runtime (the mock answers on it meanwhile).
async fn doctor(config: &Path, home: &Path, args: &[&str]) -> cli::Out {
    let (config, home) = (config.to_path_buf(), home.to_path_buf());
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        cli::output(
            cli::command(&["doctor"])
                .args(&args)
                .arg("--config")
                .arg(&config)
                .env("CODEX_HOME", &home)
                .env_remove("CODEX_POOL_ADMIN_TOKEN"),
        )
    })
    .await
    .unwrap()
}

/// A loopback address no one listens on now.
fn free_listen() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("127.0.0.1:{}", l.local_addr().unwrap().port())
}

/// The line of `check`, ✓ or ✗.
fn line<'a>(out: &'a cli::Out, check: &str) -> &'a str {
    out.stdout
        .lines()
        .find(|l| {
            l.strip_prefix("✓ ")
                .or_else(|| l.strip_prefix("✗ "))
                .is_some_and(|rest| rest.starts_with(&format!("{check}:")))
        })
        .unwrap_or_else(|| panic!("no {check} line:\n{}\n{}", out.stdout, out.stderr))
}

fn passed(out: &cli::Out, check: &str) -> bool {
    line(out, check).starts_with('✓')
}

/// The checks that failed, by name.
fn failures(out: &cli::Out) -> Vec<String> {
    out.stdout
        .lines()
        .filter_map(|l| l.strip_prefix("✗ "))
        .filter_map(|l| l.split(':').next())
        .map(str::to_string)
        .collect()
}
