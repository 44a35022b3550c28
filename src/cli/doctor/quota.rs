//! Each account's plan (its login's claims) and quota windows: one
//! `/wham/usage` probe with the account's own token, as the gateway's usage
//! probe makes it (`upstream::usage_url`, `Client::get_json`,
//! `pool::quota::from_usage_body`), one line per account.

use std::time::Duration;

use super::logins::Usable;
use super::report::{Check, Report};
use crate::config::Config;
use crate::pool::quota::{self, Quota, Window};
use crate::upstream::{Client, Failure};

/// As the gateway's own probe (`background::usage_probe_loop`).
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// `reached`: whether upstream answered the catalog; if not, no account is
/// asked (the `upstream` line already says why).
pub(super) async fn check(
    cfg: &Config,
    client: &Client,
    logins: &[Usable],
    reached: bool,
    r: &mut Report,
) {
    let url = crate::upstream::usage_url(&cfg.upstream.base_url);
    let now = crate::clock::unix_now();
    for u in logins {
        let name = format!("account {}", u.name);
        let plan = format!("plan {}", u.creds.plan.as_deref().unwrap_or("unknown"));
        let not_asked = |why: &str| Check::good(&name, &format!("{plan} (quota not asked: {why})"));
        if !u.enabled {
            r.push(not_asked("the account is disabled"));
            continue;
        }
        if !reached {
            r.push(not_asked("upstream did not answer"));
            continue;
        }
        if u.creds.expires_at.is_some_and(|t| t <= now) {
            r.push(not_asked(
                "its access token expired; the gateway renews it on use, --refresh now",
            ));
            continue;
        }
        let check = match client.get_json(&url, &u.creds, PROBE_TIMEOUT).await {
            Ok((_, body)) => match quota::from_usage_body(&body) {
                Some(q) => Check::good(&name, &format!("{plan}{}", windows(&q, now))),
                None => Check::good(&name, &format!("{plan} (upstream reported no windows)")),
            },
            Err(e @ (Failure::Unauthorized { .. } | Failure::Forbidden { .. })) => Check::bad(
                &name,
                &format!("{plan}; upstream refused its token: {e}"),
                &format!(
                    "codex-pool doctor --refresh, or codex-pool login --account {}",
                    u.name
                ),
            ),
            Err(e) => Check::bad(
                &name,
                &format!("{plan}; the usage probe failed: {e}"),
                "check the network to upstream",
            ),
        };
        r.push(check);
    }
}

/// `, 5h window 12% used (resets in 3h10m), weekly 40%`.
fn windows(q: &Quota, now: i64) -> String {
    [&q.primary, &q.secondary]
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, w)| window(w, now, i == 0))
        .collect()
}

fn window(w: &Window, now: i64, first: bool) -> String {
    let span = match w.window_minutes {
        Some(10_080) => "weekly".to_string(),
        Some(m) if m % 1440 == 0 => format!("{}d window", m / 1440),
        Some(m) if m % 60 == 0 => format!("{}h window", m / 60),
        Some(m) => format!("{m}min window"),
        None if first => "short window".into(),
        None => "long window".into(),
    };
    let used = if first {
        format!("{:.0}% used", w.used_percent)
    } else {
        format!("{:.0}%", w.used_percent)
    };
    let resets = match w.resets_at {
        Some(t) if first && t > now => format!(" (resets in {})", span_text(t - now)),
        _ => String::new(),
    };
    format!(", {span} {used}{resets}")
}

/// `3h10m`, `2d4h`, `12m`.
fn span_text(secs: i64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (d, h) {
        (0, 0) => format!("{m}m"),
        (0, _) => format!("{h}h{m:02}m"),
        _ => format!("{d}d{h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_read_as_the_cli_shows_them() {
        let now = 1_000_000;
        let q = Quota {
            primary: Some(Window {
                used_percent: 12.4,
                window_minutes: Some(300),
                resets_at: Some(now + 3 * 3600 + 600),
            }),
            secondary: Some(Window {
                used_percent: 40.0,
                window_minutes: Some(10_080),
                resets_at: Some(now + 86_400 * 3),
            }),
            ..Quota::default()
        };
        assert_eq!(
            windows(&q, now),
            ", 5h window 12% used (resets in 3h10m), weekly 40%"
        );
        assert_eq!(span_text(59 * 60), "59m");
        assert_eq!(span_text(2 * 86_400 + 4 * 3600), "2d4h");
    }
}
