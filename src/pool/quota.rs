//! What upstream says about an account's subscription windows.
//!
//! Read from the `x-codex-*` headers of every response (and from `/wham/usage`
//! when the optional probe runs); the latest reading per account is kept.

use http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::breaker::LONGEST_COOLDOWN;
use crate::clock::unix_now;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub used_percent: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_minutes: Option<u64>,
    /// Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resets_at: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Quota {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary: Option<Window>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secondary: Option<Window>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// Unix seconds of the reading.
    pub observed_at: i64,
    /// Which limit applies now (`X-Codex-Active-Limit`, 2026).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_limit: Option<String>,
    /// Which limit was reached, when one was (`X-Codex-Rate-Limit-Reached-Type`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_reached_type: Option<String>,
    /// Workspace credits: a Team/Business account with credits keeps serving
    /// past its window (`X-Codex-Credits-*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credits: Option<Credits>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Credits {
    pub has_credits: bool,
    pub unlimited: bool,
    /// As upstream writes it (a decimal string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<String>,
}

impl Quota {
    /// Whether the account may serve past a spent window: it has credits.
    pub fn has_credits(&self) -> bool {
        self.credits
            .as_ref()
            .is_some_and(|c| c.has_credits || c.unlimited)
    }
}

fn text(headers: &HeaderMap, name: &str) -> Option<String> {
    let v = headers.get(name)?.to_str().ok()?.trim();
    (!v.is_empty() && v.len() <= 64).then(|| v.to_string())
}

fn flag(headers: &HeaderMap, name: &str) -> Option<bool> {
    let v = headers.get(name)?.to_str().ok()?.trim();
    Some(v.eq_ignore_ascii_case("true") || v == "1")
}

fn credits_from_headers(headers: &HeaderMap) -> Option<Credits> {
    let has = flag(headers, "x-codex-credits-has-credits");
    let unlimited = flag(headers, "x-codex-credits-unlimited");
    let balance = text(headers, "x-codex-credits-balance");
    if has.is_none() && unlimited.is_none() && balance.is_none() {
        return None;
    }
    Some(Credits {
        has_credits: has.unwrap_or(false),
        unlimited: unlimited.unwrap_or(false),
        balance,
    })
}

fn credits_from_body(body: &serde_json::Value) -> Option<Credits> {
    let c = body.get("credits").filter(|c| c.is_object())?;
    let balance = match c.get("balance") {
        Some(serde_json::Value::String(s)) if s.len() <= 64 => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    Some(Credits {
        has_credits: c.get("has_credits").and_then(serde_json::Value::as_bool) == Some(true),
        unlimited: c.get("unlimited").and_then(serde_json::Value::as_bool) == Some(true),
        balance,
    })
}

fn header<T: std::str::FromStr>(headers: &HeaderMap, name: &str) -> Option<T> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The longest a window can be said to reset in: what the pool would wait at
/// most anyway. Upstream's numbers are not trusted past it.
const LONGEST_SECS: i64 = LONGEST_COOLDOWN.as_secs() as i64;

/// A reset `secs` from `now`, as upstream says it (`1e30`, `-5`, `NaN` come
/// back within 0..=`LONGEST_SECS` of now, or not at all).
fn reset_after(now: i64, secs: f64) -> Option<i64> {
    if secs.is_nan() {
        return None;
    }
    // A float-to-int `as` saturates, and the clamp keeps it in range.
    let secs = (secs as i64).clamp(0, LONGEST_SECS);
    Some(now.saturating_add(secs))
}

/// A reset at unix second `at`, as upstream says it: not before the epoch,
/// so that `at - now` cannot overflow where it is shown.
fn reset_at(at: i64) -> i64 {
    at.max(0)
}

impl Quota {
    /// This reading with every number in the range an upstream reading is
    /// kept in (for one read from the shared store, which any writer can set).
    pub fn bounded(mut self, now: i64) -> Quota {
        for w in [&mut self.primary, &mut self.secondary] {
            let Some(win) = w.as_mut() else { continue };
            if percent(win.used_percent).is_none() {
                *w = None;
                continue;
            }
            win.used_percent = win.used_percent.clamp(0.0, 100.0);
            win.window_minutes = win.window_minutes.map(|m| m.min(LONGEST_WINDOW_MINUTES));
            win.resets_at = win
                .resets_at
                .map(|at| reset_at(at).min(now.saturating_add(LONGEST_SECS)));
        }
        self.observed_at = self.observed_at.clamp(0, now);
        self
    }
}

/// The longest window a subscription has (a week) with room to spare.
const LONGEST_WINDOW_MINUTES: u64 = 366 * 24 * 60;

/// A used percentage only when it is a number (`NaN` and `inf` parse as f64).
fn percent(p: f64) -> Option<f64> {
    p.is_finite().then_some(p)
}

fn window(headers: &HeaderMap, which: &str, now: i64) -> Option<Window> {
    let used = percent(header(headers, &format!("x-codex-{which}-used-percent"))?)?;
    let resets_at = header::<i64>(headers, &format!("x-codex-{which}-reset-at"))
        .map(reset_at)
        .or_else(|| {
            header::<f64>(headers, &format!("x-codex-{which}-reset-after-seconds"))
                .and_then(|s| reset_after(now, s))
        });
    Some(Window {
        used_percent: used,
        window_minutes: header(headers, &format!("x-codex-{which}-window-minutes")),
        resets_at,
    })
}

/// The quota headers of one response, or `None` when it carried none.
pub fn from_headers(headers: &HeaderMap) -> Option<Quota> {
    let now = unix_now();
    let primary = window(headers, "primary", now);
    let secondary = window(headers, "secondary", now);
    let credits = credits_from_headers(headers);
    if primary.is_none() && secondary.is_none() && credits.is_none() {
        return None;
    }
    Some(Quota {
        primary,
        secondary,
        plan: None,
        observed_at: now,
        active_limit: text(headers, "x-codex-active-limit"),
        limit_reached_type: text(headers, "x-codex-rate-limit-reached-type"),
        credits,
    })
}

/// The body of `GET /wham/usage`.
pub fn from_usage_body(body: &serde_json::Value) -> Option<Quota> {
    let now = unix_now();
    let limits = body.get("rate_limit")?;
    let win = |key: &str| -> Option<Window> {
        let w = limits.get(key)?;
        let used = percent(w.get("used_percent")?.as_f64()?)?;
        let resets_at = w
            .get("reset_at")
            .and_then(serde_json::Value::as_i64)
            .map(reset_at)
            .or_else(|| {
                w.get("reset_after_seconds")
                    .and_then(serde_json::Value::as_f64)
                    .and_then(|s| reset_after(now, s))
            });
        Some(Window {
            used_percent: used,
            window_minutes: w
                .get("limit_window_seconds")
                .and_then(serde_json::Value::as_u64)
                .map(|s| s / 60),
            resets_at,
        })
    };
    Some(Quota {
        primary: win("primary_window"),
        secondary: win("secondary_window"),
        plan: body
            .get("plan_type")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
        observed_at: now,
        active_limit: None,
        limit_reached_type: None,
        credits: credits_from_body(body),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn reads_current_and_old_reset_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-codex-primary-used-percent",
            HeaderValue::from_static("42.5"),
        );
        h.insert(
            "x-codex-primary-window-minutes",
            HeaderValue::from_static("300"),
        );
        h.insert(
            "x-codex-primary-reset-at",
            HeaderValue::from_static("1900000000"),
        );
        h.insert(
            "x-codex-secondary-used-percent",
            HeaderValue::from_static("7"),
        );
        h.insert(
            "x-codex-secondary-reset-after-seconds",
            HeaderValue::from_static("600"),
        );
        let q = from_headers(&h).unwrap_or_default();
        let p = q.primary.unwrap_or_default();
        assert_eq!(p.used_percent, 42.5);
        assert_eq!(p.window_minutes, Some(300));
        assert_eq!(p.resets_at, Some(1_900_000_000));
        let s = q.secondary.unwrap_or_default();
        let expect = unix_now() + 600;
        assert!(
            s.resets_at.is_some_and(|r| (r - expect).abs() <= 2),
            "{s:?}"
        );
    }

    #[test]
    fn absurd_resets_from_upstream_are_clamped_not_overflowed() {
        let now = 1_800_000_000;
        let ahead = now + LONGEST_SECS;
        assert_eq!(reset_after(now, 1e30), Some(ahead));
        assert_eq!(reset_after(now, f64::INFINITY), Some(ahead));
        assert_eq!(reset_after(now, -5.0), Some(now));
        assert_eq!(reset_after(now, f64::NEG_INFINITY), Some(now));
        assert_eq!(reset_after(now, f64::NAN), None);
        assert_eq!(reset_after(i64::MAX, 10.0), Some(i64::MAX));
        assert_eq!(reset_after(now, 600.9), Some(now + 600));
        assert_eq!(reset_at(i64::MIN), 0);
        assert_eq!(reset_at(now + 60), now + 60);

        let mut h = HeaderMap::new();
        h.insert(
            "x-codex-primary-used-percent",
            HeaderValue::from_static("10"),
        );
        h.insert(
            "x-codex-primary-reset-after-seconds",
            HeaderValue::from_static("1e30"),
        );
        h.insert(
            "x-codex-secondary-used-percent",
            HeaderValue::from_static("NaN"),
        );
        let q = from_headers(&h).unwrap_or_default();
        let at = q.primary.and_then(|w| w.resets_at).unwrap_or_default();
        assert!(at > unix_now() && at <= unix_now() + LONGEST_SECS, "{at}");
        assert_eq!(q.secondary, None, "a NaN percentage is no reading");

        let body = serde_json::json!({"rate_limit": {
            "primary_window": {"used_percent": 1, "reset_after_seconds": -1e30},
            "secondary_window": {"used_percent": 2, "reset_after_seconds": 1e300}}});
        let q = from_usage_body(&body).unwrap_or_default();
        let p = q.primary.and_then(|w| w.resets_at).unwrap_or_default();
        let s = q.secondary.and_then(|w| w.resets_at).unwrap_or_default();
        assert!((p - unix_now()).abs() <= 2, "{p}");
        assert!(s > unix_now() && s <= unix_now() + LONGEST_SECS, "{s}");
    }

    #[test]
    fn reads_the_2026_headers_credits_and_active_limit() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("x-codex-primary-used-percent", "100"),
            ("x-codex-active-limit", "codex"),
            ("x-codex-rate-limit-reached-type", "primary"),
            ("X-Codex-Credits-Has-Credits", "True"),
            ("x-codex-credits-unlimited", "false"),
            ("x-codex-credits-balance", "125.50"),
        ] {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_static(v),
            );
        }
        let q = from_headers(&h).unwrap_or_default();
        assert_eq!(q.active_limit.as_deref(), Some("codex"));
        assert_eq!(q.limit_reached_type.as_deref(), Some("primary"));
        assert_eq!(
            q.credits,
            Some(Credits {
                has_credits: true,
                unlimited: false,
                balance: Some("125.50".into())
            })
        );
        assert!(q.has_credits());
        let body = serde_json::json!({"plan_type": "team", "rate_limit": {}, "credits": {"has_credits": false, "unlimited": false, "balance": "0"}});
        let q = from_usage_body(&body).unwrap_or_default();
        assert!(!q.has_credits());
        assert_eq!(q.credits.and_then(|c| c.balance).as_deref(), Some("0"));
    }

    #[test]
    fn no_headers_no_reading() {
        assert_eq!(from_headers(&HeaderMap::new()), None);
    }

    #[test]
    fn reads_the_usage_probe_body() {
        let body = serde_json::json!({"plan_type": "pro", "rate_limit": {"allowed": true, "limit_reached": false,
            "primary_window": {"used_percent": 12, "limit_window_seconds": 18000, "reset_after_seconds": 100, "reset_at": 1900000000},
            "secondary_window": {"used_percent": 3, "limit_window_seconds": 604800, "reset_at": 1900500000}}});
        let q = from_usage_body(&body).unwrap_or_default();
        assert_eq!(q.plan.as_deref(), Some("pro"));
        assert_eq!(
            q.primary.as_ref().map(|w| w.window_minutes),
            Some(Some(300))
        );
        assert_eq!(
            q.secondary.as_ref().and_then(|w| w.resets_at),
            Some(1_900_500_000)
        );
    }
}
