//! What upstream says about an account's subscription windows.
//!
//! Read from the `x-codex-*` headers of every response (and from `/wham/usage`
//! when the optional probe runs); the latest reading per account is kept.

use http::HeaderMap;
use serde::Serialize;

use crate::clock::unix_now;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Window {
    pub used_percent: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_minutes: Option<u64>,
    /// Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resets_at: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Quota {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary: Option<Window>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secondary: Option<Window>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// Unix seconds of the reading.
    pub observed_at: i64,
}

fn header<T: std::str::FromStr>(headers: &HeaderMap, name: &str) -> Option<T> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

fn window(headers: &HeaderMap, which: &str, now: i64) -> Option<Window> {
    let used: f64 = header(headers, &format!("x-codex-{which}-used-percent"))?;
    let resets_at = header::<i64>(headers, &format!("x-codex-{which}-reset-at")).or_else(|| {
        header::<f64>(headers, &format!("x-codex-{which}-reset-after-seconds"))
            .map(|s| now + s as i64)
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
    if primary.is_none() && secondary.is_none() {
        return None;
    }
    Some(Quota {
        primary,
        secondary,
        plan: None,
        observed_at: now,
    })
}

/// The body of `GET /wham/usage`.
pub fn from_usage_body(body: &serde_json::Value) -> Option<Quota> {
    let now = unix_now();
    let limits = body.get("rate_limit")?;
    let win = |key: &str| -> Option<Window> {
        let w = limits.get(key)?;
        let used = w.get("used_percent")?.as_f64()?;
        let resets_at = w
            .get("reset_at")
            .and_then(serde_json::Value::as_i64)
            .or_else(|| {
                w.get("reset_after_seconds")
                    .and_then(serde_json::Value::as_f64)
                    .map(|s| now + s as i64)
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
