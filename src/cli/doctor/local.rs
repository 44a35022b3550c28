//! This machine: the listen address (free, or this gateway answering on it),
//! `/metrics` where this gateway serves it, and the Codex CLI's
//! `config.toml` (pointed at this gateway, or not).

use std::time::Duration;

use super::report::{Check, Report};
use crate::cli::accounts::{bearer, reachable, TOKEN_ENV};
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

/// `/metrics` on the listen address when this gateway runs there (with the
/// admin token where the listener needs one), and on `[metrics].listen`.
pub(super) async fn metrics(cfg: &Config, gateway_runs: bool, r: &mut Report) {
    if !gateway_runs {
        return r.push(Check::good(
            "metrics",
            &format!(
                "no gateway runs on {}: /metrics not asked",
                cfg.server.listen
            ),
        ));
    }
    let Some(client) = local_client() else {
        return r.push(Check::bad("metrics", "cannot build an HTTP client", ""));
    };
    let main = cfg.server.listen;
    let url = format!("http://{}/metrics", reachable(main));
    let mut req = client.get(&url);
    // Off loopback, the main listener serves /metrics to the admin token or a client key.
    if !main.ip().is_loopback() {
        match bearer(cfg, std::env::var(TOKEN_ENV).ok()) {
            Ok(token) => req = req.bearer_auth(token.expose()),
            Err(why) => {
                r.push(Check::good(
                    "metrics",
                    &format!("{url} needs the admin token, not asked: {why}"),
                ));
                return scrape_extra(cfg, &client, r).await;
            }
        }
    }
    r.push(scrape(req, &url).await);
    scrape_extra(cfg, &client, r).await;
}

/// `[metrics].listen`, when set: open to whoever reaches it.
async fn scrape_extra(cfg: &Config, client: &reqwest::Client, r: &mut Report) {
    if let Some(addr) = cfg.metrics_listen {
        let url = format!("http://{}/metrics", reachable(addr));
        r.push(scrape(client.get(&url), &url).await);
    }
}

async fn scrape(req: reqwest::RequestBuilder, url: &str) -> Check {
    match req.send().await {
        Ok(resp) if resp.status().is_success() => {
            let text = resp.text().await.unwrap_or_default();
            let series = text
                .lines()
                .filter(|l| l.starts_with("codex_pool_"))
                .count();
            if series == 0 {
                Check::bad(
                    "metrics",
                    &format!("{url} answers without codex-pool's series"),
                    "another program answers there: check listen and metrics.listen",
                )
            } else {
                Check::good("metrics", &format!("{url} answers ({series} series)"))
            }
        }
        Ok(resp) if resp.status() == reqwest::StatusCode::UNAUTHORIZED => Check::bad(
            "metrics",
            &format!("{url} refused the admin token"),
            &format!("set {TOKEN_ENV} to the admin token"),
        ),
        Ok(resp) => Check::bad(
            "metrics",
            &format!("{url} answered {}", resp.status().as_u16()),
            "see the gateway's log",
        ),
        Err(e) => Check::bad(
            "metrics",
            &format!("{url} does not answer: {e}"),
            "see the gateway's log (metrics.listen may not have bound)",
        ),
    }
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
