//! `codex-pool doctor`: one line per check, ✓ or ✗ with what to do, and exit
//! 0 only when nothing is ✗. It never prints a token, a key or a password.
//!
//! The checks, in the order they print:
//! - `config`: the file loads and is valid;
//! - `login NAME`: each account's login is readable, its access token's
//!   expiry, a refresh token present (`logins.rs`);
//! - `store`, `store key` (with `[store]`): Redis answers (its URL shown
//!   without a password), and the encryption key opens the logins sealed
//!   there (`store.rs`);
//! - `refresh NAME` (only with `--refresh`): the issuer still takes the
//!   refresh token. Refresh tokens rotate, so this is a real refresh through
//!   the gateway's own path (`auth::refresh`: the auth file's lock, or the
//!   store's with `[store]`, and its atomic save): the rotated login is saved
//!   as a gateway's refresh saves it, and a gateway running meanwhile adopts
//!   it. Without `--refresh` nothing is sent to the issuer but a GET of its
//!   address (`logins.rs`);
//! - `upstream`, `clock`, `catalog`: upstream's `/models` with one account
//!   (reachable, latency), the machine's clock against its `Date`, the
//!   version the newest model needs against the one sent (`upstream.rs`);
//! - `account NAME`: the plan its login claims and its quota windows, from a
//!   `/wham/usage` probe with its token as the gateway's probe makes
//!   (`quota.rs`);
//! - `issuer`: the issuer's address answers;
//! - `listen`: the listen address is free, or this gateway answers on it;
//! - `metrics`: `/metrics` answers where this gateway serves it (with the
//!   admin token where the listener needs one), or a note when no gateway
//!   runs there (`local.rs`);
//! - `codex cli`: whether the Codex CLI's `config.toml` points at this gateway.
//!
//! `--json` prints the same checks as one object. Findings and the HTTP date
//! live in `report.rs`.

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
