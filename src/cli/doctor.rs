//! `codex-pool doctor`: one line per check, ✓ or ✗ with what to do, and exit
//! 0 only when nothing is ✗. It never prints a token.
//!
//! Checks: the config; each account's login (readable, expiry, refresh token
//! present); upstream and the issuer reachable, with latency; the clock
//! against upstream's `Date`; the catalog (models, the version they need
//! against the version sent); the listen address (free, or this gateway on
//! it); the Codex CLI's `config.toml` (pointed at this gateway or not).
//! The HTTP date and the output live in `doctor/`.

mod report;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use report::{Check, Report};

use crate::auth::file::{self, Credentials};
use crate::config::{self, Config};
use crate::upstream::identity::{Version, VERSION_FLOOR};
use crate::upstream::{Client, Identity};

/// Clocks further apart than this break token expiry checks.
const MAX_SKEW: i64 = 120;
const TIMEOUT: Duration = Duration::from_secs(15);

pub(super) fn doctor(config: Option<PathBuf>, json: bool) -> ExitCode {
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
    let report = rt.block_on(run(config));
    report.print(json);
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn run(path: Option<PathBuf>) -> Report {
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
    let creds = logins(&cfg, &mut r);
    upstream(&cfg, creds.as_ref(), &mut r).await;
    reachable("issuer", &cfg.upstream.issuer, &mut r).await;
    listen(&cfg, &mut r).await;
    codex_cli(&cfg, &mut r);
    r
}

/// Each account's login; the first usable one's credentials.
fn logins(cfg: &Config, r: &mut Report) -> Option<Credentials> {
    let mut first = None;
    let now = crate::clock::unix_now();
    for a in &cfg.accounts {
        let name = format!("login {}", a.name);
        let relogin = format!("codex-pool login --account {}", a.name);
        match file::load_credentials(&a.auth_file) {
            Err(e) => r.push(Check::bad(&name, &e.to_string(), &relogin)),
            Ok((_, c)) if c.refresh_token.expose().is_empty() => {
                r.push(Check::bad(&name, "no refresh token", &relogin));
            }
            Ok((_, c)) => {
                let expiry = match c.expires_at {
                    Some(t) if t > now => format!("access token expires in {} min", (t - now) / 60),
                    Some(_) => "access token expired (the refresh token renews it)".into(),
                    None => "access token expiry unreadable".into(),
                };
                let plan = c.plan.clone().unwrap_or_else(|| "unknown".into());
                r.push(Check::good(
                    &name,
                    &format!("readable, plan {plan}, {expiry}, refresh token present"),
                ));
                first.get_or_insert(c);
            }
        }
    }
    first
}

/// Upstream's catalog with one account: reachability, latency, clock, versions.
async fn upstream(cfg: &Config, creds: Option<&Credentials>, r: &mut Report) {
    let Some(creds) = creds else {
        r.push(Check::bad(
            "upstream",
            "no usable login to ask it with",
            "fix the logins above",
        ));
        return;
    };
    let client = match Client::new(&cfg.upstream, Arc::new(Identity::new())) {
        Ok(c) => c,
        Err(e) => return r.push(Check::bad("upstream", &e.to_string(), "fix [upstream]")),
    };
    let url = format!(
        "{}/models?client_version={}",
        cfg.upstream.base_url,
        crate::catalog::UNGATED_CLIENT_VERSION
    );
    let started = Instant::now();
    let (headers, body) = match client.get_json(&url, creds, TIMEOUT).await {
        Ok(a) => a,
        Err(e) => {
            let fix = "check the network, DNS, a proxy, or [upstream].base_url";
            return r.push(Check::bad(
                "upstream",
                &format!("{}: {e}", cfg.upstream.base_url),
                fix,
            ));
        }
    };
    let ms = started.elapsed().as_millis();
    r.push(Check::good(
        "upstream",
        &format!("{} answers ({ms} ms)", cfg.upstream.base_url),
    ));
    clock(&headers, r);
    catalog(cfg, &body, r);
}

fn clock(headers: &http::HeaderMap, r: &mut Report) {
    let Some(theirs) = headers
        .get(http::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(report::http_date)
    else {
        return r.push(Check::good(
            "clock",
            "upstream sent no Date to compare with",
        ));
    };
    let skew = crate::clock::unix_now() - theirs;
    if skew.abs() > MAX_SKEW {
        r.push(Check::bad(
            "clock",
            &format!("this machine is {skew} s off upstream's Date"),
            "sync the clock (NTP)",
        ));
    } else {
        r.push(Check::good(
            "clock",
            &format!("within {} s of upstream", skew.abs()),
        ));
    }
}

fn catalog(cfg: &Config, body: &serde_json::Value, r: &mut Report) {
    let Ok(c) = crate::catalog::Catalog::from_upstream(body.clone(), 0) else {
        return r.push(Check::bad(
            "catalog",
            "upstream's /models answer is not a catalog",
            "see docs/upstream.md §1",
        ));
    };
    let needed = c
        .models
        .iter()
        .filter_map(|m| m.minimal_client_version.as_deref().and_then(Version::parse))
        .max();
    let floor = Version::parse(VERSION_FLOOR);
    let sent = match Version::parse(&cfg.upstream.client_version) {
        Some(v) => Some(v),
        None => floor.max(needed),
    };
    let line = format!(
        "{} models, the newest needs Codex {}, the gateway sends {} ({})",
        c.models.len(),
        needed.map_or("(no minimum)".into(), |v| v.to_string()),
        sent.map_or("?".into(), |v| v.to_string()),
        cfg.upstream.client_version
    );
    match (needed, sent) {
        (Some(n), Some(s)) if n > s => r.push(Check::bad(
            "catalog",
            &line,
            "set [upstream] client_version = \"auto\"",
        )),
        _ => r.push(Check::good("catalog", &line)),
    }
}

async fn reachable(name: &str, url: &str, r: &mut Report) {
    let client = match reqwest::Client::builder().timeout(TIMEOUT).build() {
        Ok(c) => c,
        Err(e) => return r.push(Check::bad(name, &e.to_string(), "")),
    };
    let started = Instant::now();
    match client.get(url).send().await {
        Ok(resp) => r.push(Check::good(
            name,
            &format!(
                "{url} answers {} ({} ms)",
                resp.status().as_u16(),
                started.elapsed().as_millis()
            ),
        )),
        Err(e) => r.push(Check::bad(
            name,
            &format!("{url}: {e}"),
            "check the network, DNS or a proxy",
        )),
    }
}

async fn listen(cfg: &Config, r: &mut Report) {
    let addr = cfg.server.listen;
    if tokio::net::TcpListener::bind(addr).await.is_ok() {
        return r.push(Check::good("listen", &format!("{addr} is free")));
    }
    let ours = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(3))
        .build()
        .ok();
    let url = format!("http://{addr}/healthz");
    let answered = match ours {
        Some(c) => c
            .get(&url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success()),
        None => false,
    };
    if answered {
        r.push(Check::good(
            "listen",
            &format!("{addr}: this gateway answers on it"),
        ));
    } else {
        r.push(Check::bad(
            "listen",
            &format!("{addr} is taken by another program"),
            "stop it or change listen",
        ));
    }
}

fn codex_cli(cfg: &Config, r: &mut Report) {
    let Some(path) = config::codex_home().map(|h| h.join("config.toml")) else {
        return r.push(Check::good("codex cli", "no Codex home folder"));
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        return r.push(Check::good(
            "codex cli",
            &format!("{} absent: the CLI talks to ChatGPT itself", path.display()),
        ));
    };
    let port = format!(":{}", cfg.server.listen.port());
    let urls: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.trim_start().starts_with("chatgpt_base_url")
                || l.trim_start().starts_with("openai_base_url")
                || l.trim_start().starts_with("base_url")
        })
        .collect();
    if urls.is_empty() {
        r.push(Check::good(
            "codex cli",
            &format!("{}: not pointed at a gateway", path.display()),
        ));
    } else if urls.iter().all(|l| l.contains(&port)) {
        r.push(Check::good(
            "codex cli",
            &format!("{} points at this gateway", path.display()),
        ));
    } else {
        r.push(Check::bad(
            "codex cli",
            &format!("{} points elsewhere", path.display()),
            "codex-pool codex-config",
        ));
    }
}
