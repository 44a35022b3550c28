//! This machine: the listen address (free, or this gateway answering on it),
//! and the Codex CLI's `config.toml` (pointed at this gateway, or not).

use std::time::Duration;

use super::report::{Check, Report};
use crate::cli::accounts::reachable;
use crate::config::{self, Config};

/// Local calls: a gateway on this machine answers at once or not at all.
const LOCAL_TIMEOUT: Duration = Duration::from_secs(3);

fn local_client() -> Option<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(LOCAL_TIMEOUT)
        .build()
        .ok()
}

/// Whether this gateway answers on its listen address.
pub(super) async fn listen(cfg: &Config, r: &mut Report) -> bool {
    let addr = cfg.server.listen;
    if tokio::net::TcpListener::bind(addr).await.is_ok() {
        r.push(Check::good("listen", &format!("{addr} is free")));
        return false;
    }
    let url = format!("http://{}/healthz", reachable(addr));
    let answered = match local_client() {
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
    answered
}

pub(super) fn codex_cli(cfg: &Config, r: &mut Report) {
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
