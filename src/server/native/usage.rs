//! `GET /backend-api/wham/usage` (and `/api/codex/usage`): the windows of the
//! account the caller's next request would be served by, in the backend's
//! shape, so the CLI's `/status` shows what the pool has left.
//!
//! - Every number is an integer: the CLI refuses the whole answer otherwise.
//! - When every account is usage-limited: `limit_reached`, and the earliest
//!   reset in the pool.
//! - From what recent answers' `x-codex-*` headers said (`Account::quota`);
//!   when that is older than `FRESH`, one `/wham/usage` probe of that
//!   account, at most every `PROBE_EVERY`.
//! - The pool's quota is for the pool's clients: with `[[api_keys]]`
//!   configured, a request without a client key gets the backend's "not
//!   available" shape (`{"plan_type"}` alone), not an error, which the CLI
//!   would take for an expired login.
//! - Under `round_robin` the next account changes with every request; the
//!   first usable one in file order is shown, and the rotation is not moved.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Response, StatusCode};
use serde_json::{json, Value};
use tokio::time::Instant;

use super::super::body::{self, Body};
use super::super::request;
use super::super::Shared;
use super::{forward, lock};
use crate::clock::unix_now;
use crate::keys;
use crate::pool::quota::{Quota, Window};
use crate::pool::{Account, Exhausted};

/// A quota reading younger than this is shown as it is.
const FRESH: i64 = 300;
/// At most one probe per account this often.
const PROBE_EVERY: Duration = Duration::from_secs(60);
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) async fn handle(shared: &Arc<Shared>, headers: &HeaderMap) -> Response<Body> {
    let snap = shared.app.snapshot();
    let mut presented = headers.clone();
    forward::strip_caller_login(&mut presented);
    let key = match keys::authenticate(&snap.keys, request::client_key(&presented)) {
        Ok(k) => k,
        Err(_) => return answer(&not_available(None), None),
    };
    let key_cfg = key.as_ref().map(|k| &k.config);
    let scope = key_cfg.and_then(|k| k.accounts.as_deref());
    let strategy = key_cfg
        .and_then(|k| k.strategy)
        .unwrap_or(snap.config.pool.strategy);
    // Showing usage does not move the rotation on.
    let (account, limited_until) = match snap.pool.peek(strategy, scope) {
        Ok(Some(a)) => (a, None),
        Ok(None) => return answer(&not_available(None), None),
        Err(Exhausted::UsageLimited { earliest_reset }) => {
            let reset = earliest_reset
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            match snap.pool.first_to_reset(scope) {
                Some(a) => (a, Some(reset)),
                None => return answer(&not_available(None), None),
            }
        }
        Err(Exhausted::Unavailable { .. }) => return answer(&not_available(None), None),
    };
    let plan = account.credentials().and_then(|c| c.plan.clone());
    let quota = fresh_quota(shared, &account).await;
    let body = match quota {
        Some(q) => render(&q, plan.as_deref(), limited_until, unix_now()),
        None => not_available(plan.as_deref()),
    };
    answer(&body, Some(&account.name))
}

fn answer(body: &Value, account: Option<&str>) -> Response<Body> {
    let mut r = body::json(StatusCode::OK, body);
    if let Some(v) = account.and_then(|a| HeaderValue::from_str(a).ok()) {
        r.headers_mut().insert("x-codex-pool-account", v);
    }
    r
}

/// The backend's answer for an account without limits to show.
fn not_available(plan: Option<&str>) -> Value {
    json!({"plan_type": plan.unwrap_or("unknown")})
}

/// The account's reading if fresh, else (at most every `PROBE_EVERY`) what
/// its `/wham/usage` says now, else the last reading there is.
async fn fresh_quota(shared: &Shared, account: &Arc<Account>) -> Option<Quota> {
    let known = account.quota();
    if known
        .as_ref()
        .is_some_and(|q| unix_now() - q.observed_at < FRESH)
    {
        return known;
    }
    let due = {
        let mut probed = lock(&shared.native.probed);
        let now = Instant::now();
        let due = probed
            .get(&account.name)
            .is_none_or(|at| now.duration_since(*at) >= PROBE_EVERY);
        if due {
            probed.insert(account.name.clone(), now);
        }
        due
    };
    if !due {
        return known;
    }
    shared
        .app
        .probe_usage(account, PROBE_TIMEOUT)
        .await
        .or(known)
}

/// A reading in the backend's shape, every number an integer.
fn render(q: &Quota, plan: Option<&str>, limited_until: Option<i64>, now: i64) -> Value {
    let limited = limited_until.is_some();
    // The window that binds when the pool is out: the one used up, else the primary.
    let binding = match (&q.primary, &q.secondary) {
        (_, Some(s)) if s.used_percent >= 100.0 => "secondary",
        _ => "primary",
    };
    let window = |which: &str, w: Option<&Window>, default_minutes: u64| -> Value {
        let mut used = w.map_or(0.0, |w| w.used_percent);
        let mut reset_at = w.and_then(|w| w.resets_at);
        if let (true, Some(until)) = (which == binding, limited_until) {
            used = used.max(100.0);
            reset_at = Some(until);
        }
        let Some(reset_at) = reset_at else {
            return Value::Null;
        };
        let minutes = w.and_then(|w| w.window_minutes).unwrap_or(default_minutes);
        json!({
            "used_percent": used.round().clamp(0.0, 100.0) as i64,
            "limit_window_seconds": minutes.saturating_mul(60),
            "reset_after_seconds": (reset_at - now).max(0),
            "reset_at": reset_at,
        })
    };
    let mut out = json!({
        "plan_type": q.plan.as_deref().or(plan).unwrap_or("unknown"),
        "rate_limit": {
            "allowed": !limited,
            "limit_reached": limited,
            "primary_window": window("primary", q.primary.as_ref(), 300),
            "secondary_window": window("secondary", q.secondary.as_ref(), 10080),
        },
    });
    // What the CLI's `/status` shows of a workspace's credits.
    if let Some(c) = &q.credits {
        out["credits"] = json!({"has_credits": c.has_credits, "unlimited": c.unlimited,
            "balance": c.balance});
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(p: f64, s: f64) -> Quota {
        Quota {
            primary: Some(Window {
                used_percent: p,
                window_minutes: Some(300),
                resets_at: Some(1_000_600),
            }),
            secondary: Some(Window {
                used_percent: s,
                window_minutes: None,
                resets_at: Some(1_100_000),
            }),
            plan: Some("pro".into()),
            observed_at: 1_000_000,
            ..Quota::default()
        }
    }

    #[test]
    fn percentages_and_seconds_are_integers() {
        let v = render(&quota(40.6, 3.2), None, None, 1_000_000);
        assert_eq!(
            v,
            json!({"plan_type": "pro", "rate_limit": {"allowed": true, "limit_reached": false,
                "primary_window": {"used_percent": 41, "limit_window_seconds": 18000, "reset_after_seconds": 600, "reset_at": 1_000_600},
                "secondary_window": {"used_percent": 3, "limit_window_seconds": 604800, "reset_after_seconds": 100_000, "reset_at": 1_100_000}}})
        );
    }

    #[test]
    fn a_limited_pool_shows_the_binding_window_at_the_earliest_reset() {
        let v = render(&quota(20.0, 100.0), None, Some(1_050_000), 1_000_000);
        let rl = &v["rate_limit"];
        assert_eq!(rl["allowed"], false);
        assert_eq!(rl["limit_reached"], true);
        assert_eq!(rl["secondary_window"]["used_percent"], 100);
        assert_eq!(rl["secondary_window"]["reset_at"], 1_050_000);
        assert_eq!(rl["primary_window"]["used_percent"], 20);
        let v = render(&quota(100.0, 50.0), None, Some(1_000_300), 1_000_000);
        assert_eq!(
            v["rate_limit"]["primary_window"]["reset_after_seconds"],
            300
        );
    }

    #[test]
    fn credits_are_shown_as_the_cli_reads_them() {
        let mut q = quota(100.0, 10.0);
        q.credits = Some(crate::pool::quota::Credits {
            has_credits: true,
            unlimited: false,
            balance: Some("12.5".into()),
        });
        let v = render(&q, None, None, 1_000_000);
        assert_eq!(
            v["credits"],
            json!({"has_credits": true, "unlimited": false, "balance": "12.5"})
        );
        assert!(render(&quota(1.0, 1.0), None, None, 1)
            .get("credits")
            .is_none());
    }

    #[test]
    fn a_window_without_a_reset_is_left_out_rather_than_made_up() {
        let mut q = quota(10.0, 10.0);
        q.secondary = None;
        q.plan = None;
        let v = render(&q, Some("plus"), None, 1_000_000);
        assert_eq!(v["plan_type"], "plus");
        assert!(v["rate_limit"]["secondary_window"].is_null());
    }
}
