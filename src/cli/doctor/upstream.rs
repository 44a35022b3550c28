//! Upstream with one account's login: `/models` answers (reachability and
//! latency), the machine's clock against the answer's `Date`, the catalog
//! (models, the version the newest needs against the one the gateway sends);
//! and a plain GET of an address (the issuer: reachable, nothing sent).

use std::time::Instant;

use super::logins::Usable;
use super::report::{self, Check, Report};
use super::TIMEOUT;
use crate::config::Config;
use crate::upstream::identity::{Version, VERSION_FLOOR};
use crate::upstream::{Client, Failure};

/// Clocks further apart than this break token expiry checks.
const MAX_SKEW: i64 = 120;

/// Upstream's catalog with one account's login; whether upstream answered.
pub(super) async fn check(
    cfg: &Config,
    client: &Client,
    logins: &[Usable],
    r: &mut Report,
) -> bool {
    // An access token still valid, else any: a refused one still shows the way.
    let now = crate::clock::unix_now();
    let fresh = |u: &&Usable| u.enabled && u.creds.expires_at.is_none_or(|t| t > now);
    let Some(login) = logins.iter().find(fresh).or(logins.first()) else {
        r.push(Check::bad(
            "upstream",
            "no usable login to ask it with",
            "fix the logins above",
        ));
        return false;
    };
    let url = format!(
        "{}/models?client_version={}",
        cfg.upstream.base_url,
        crate::catalog::UNGATED_CLIENT_VERSION
    );
    let started = Instant::now();
    let (headers, body) = match client.get_json(&url, &login.creds, TIMEOUT).await {
        Ok(a) => a,
        // Reachable: the accounts' own lines say whose token is refused.
        Err(e @ (Failure::Unauthorized { .. } | Failure::Forbidden { .. })) => {
            r.push(Check::bad(
                "upstream",
                &format!(
                    "{} answers, but refused account {}'s token: {e}",
                    cfg.upstream.base_url, login.name
                ),
                &format!(
                    "codex-pool doctor --refresh, or codex-pool login --account {}",
                    login.name
                ),
            ));
            return true;
        }
        Err(e) => {
            let fix = "check the network, DNS, a proxy, or [upstream].base_url";
            r.push(Check::bad(
                "upstream",
                &format!("{}: {e}", cfg.upstream.base_url),
                fix,
            ));
            return false;
        }
    };
    let ms = started.elapsed().as_millis();
    r.push(Check::good(
        "upstream",
        &format!("{} answers ({ms} ms)", cfg.upstream.base_url),
    ));
    clock(&headers, r);
    catalog(cfg, &body, r);
    true
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
        let way = if skew > 0 { "ahead of" } else { "behind" };
        r.push(Check::bad(
            "clock",
            &format!(
                "this machine's clock is {} s {way} upstream's Date (more than {MAX_SKEW} s breaks token expiry)",
                skew.abs()
            ),
            "sync the clock (NTP: timedatectl set-ntp true, chrony)",
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

/// A GET of `url`: any HTTP answer counts as reachable.
pub(super) async fn reachable(name: &str, url: &str, r: &mut Report) {
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
