//! `codex-pool doctor`: one line per check, ✓ or ✗ with what to do, and exit
//! 0 only when nothing is ✗. It never prints a token.
//!
//! Checks: the config; each account's login (readable, expiry, refresh token
//! present: `logins.rs`); with `[store]`, Redis reachable (its URL shown
//! without a password) and the encryption key able to open the logins
//! sealed there (`store.rs`); with `--refresh`, whether the issuer still
//! takes each refresh token, by a real refresh through the gateway's own
//! path, the rotated login saved as a gateway saves it (`logins.rs`);
//! upstream and the issuer reachable, with latency;
//! the clock against upstream's `Date`; the catalog (models, the version
//! they need against the version sent: `upstream.rs`); each account's plan
//! and quota windows, from a `/wham/usage` probe with its own token as the
//! gateway's probe makes it (`quota.rs`); the listen address
//! (free, or this gateway on it); `/metrics` where this gateway serves it
//! (a note when no gateway runs there); the Codex CLI's `config.toml` (pointed at
//! this gateway or not: `local.rs`). The output lives in `report.rs`.

mod local;
mod logins;
mod quota;
mod report;
mod store;
mod upstream;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use report::{Check, Report};

use crate::config::{self, Config};
use crate::upstream::{Client, Identity};

/// Bounds every network check.
const TIMEOUT: Duration = Duration::from_secs(15);

/// What `codex-pool doctor` was asked for.
pub(super) struct Options {
    pub json: bool,
    /// Renew each login once, to learn whether the issuer still takes it.
    pub refresh: bool,
}

pub(super) fn doctor(config: Option<PathBuf>, opts: &Options) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("codex-pool: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let report = rt.block_on(run(config, opts));
    report.print(opts.json);
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn run(path: Option<PathBuf>, opts: &Options) -> Report {
    let mut r = Report::default();
    let Some(path) = path.or_else(config::default_path) else {
        r.push(Check::bad(
            "config",
            "no --config and no home folder",
            "pass --config",
        ));
        return r;
    };
    let cfg = match Config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            r.push(Check::bad(
                "config",
                &e.to_string(),
                "fix the file (codex-pool check-config)",
            ));
            return r;
        }
    };
    r.push(Check::good(
        "config",
        &format!(
            "{} is valid ({} account(s))",
            path.display(),
            cfg.accounts.len()
        ),
    ));
    let client = match Client::new(&cfg.upstream, Arc::new(Identity::new())) {
        Ok(c) => c,
        Err(e) => {
            r.push(Check::bad("upstream", &e.to_string(), "fix [upstream]"));
            return r;
        }
    };
    let mut logins = logins::read(&cfg, &mut r);
    let store = store::check(&cfg, &mut r).await;
    if opts.refresh {
        logins::refresh(&cfg, &client, &store, &mut logins, &mut r).await;
    }
    let reached = upstream::check(&cfg, &client, &logins, &mut r).await;
    quota::check(&cfg, &client, &logins, reached, &mut r).await;
    upstream::reachable("issuer", &cfg.upstream.issuer, &mut r).await;
    let ours = local::listen(&cfg, &mut r).await;
    local::metrics(&cfg, ours, &mut r).await;
    local::codex_cli(&cfg, &mut r);
    r
}
