//! Reading upstream's error answers: messages, reset times, retry hints,
//! Cloudflare's marks, and the backend's 2026 refusals recognised by their words
//! (`docs/upstream.md` §5, §9). Pure functions over a status, headers and body.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::clock;
use crate::pool::breaker::LONGEST_COOLDOWN;

pub(super) fn error_message(j: &Value) -> Option<String> {
    let candidates = [
        "/error/message",
        "/detail/message",
        "/detail",
        "/message",
        "/error",
    ];
    candidates
        .iter()
        .filter_map(|p| j.pointer(p))
        .find_map(|v| v.as_str().map(str::to_owned))
}

pub(super) fn resets_at(j: &Value) -> Option<SystemTime> {
    let e = j.get("error")?;
    if let Some(at) = e.get("resets_at").and_then(Value::as_f64) {
        return Some(clock::from_unix(at as i64));
    }
    let secs = e.get("resets_in_seconds").and_then(Value::as_f64)?;
    Some(SystemTime::now() + seconds(secs)?)
}

/// Seconds from upstream as a `Duration`, clamped: no value it sends (huge,
/// negative, NaN) can overflow a clock.
fn seconds(secs: f64) -> Option<Duration> {
    Duration::try_from_secs_f64(secs.max(0.0))
        .ok()
        .map(|d| d.min(LONGEST_COOLDOWN))
        .or_else(|| (secs > 0.0).then_some(LONGEST_COOLDOWN))
}

pub(super) fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let v = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    seconds(v.trim().parse::<f64>().ok()?)
}

/// "Please try again in 12s" / "try again in 1.5s" / "in 300ms".
pub(super) fn try_again_in(message: &str) -> Option<Duration> {
    let lower = message.to_ascii_lowercase();
    const AFTER: &str = "try again in ";
    let rest = lower.get(lower.find(AFTER)? + AFTER.len()..)?;
    let num: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let value: f64 = num.parse().ok()?;
    let unit = rest.get(num.len()..)?;
    if unit.starts_with("ms") {
        seconds(value / 1000.0)
    } else if unit.starts_with('m') {
        seconds(value * 60.0)
    } else {
        seconds(value)
    }
}

pub(super) fn is_cloudflare(headers: &http::HeaderMap, body: &str) -> bool {
    let server_cf = headers
        .get(http::header::SERVER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|s| s.eq_ignore_ascii_case("cloudflare"));
    // A managed challenge (2026): the edge wants a browser, not a ban.
    let challenged = headers
        .get("cf-mitigated")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("challenge"));
    let html = body.trim_start().starts_with('<');
    challenged
        || (server_cf && html)
        || body.contains("Attention Required! | Cloudflare")
        || body.contains("Sorry, you have been blocked")
        || (html && body.contains("cloudflare"))
}

/// Cloudflare's own 52x statuses (520 "unknown error" … 527): the edge could
/// not get a proper answer from the backend. Transient, not about the account.
pub(super) fn is_cloudflare_origin_error(
    status: u16,
    headers: &http::HeaderMap,
    body: &str,
) -> bool {
    (520..=527).contains(&status)
        && (body.trim_start().starts_with('<') || is_cloudflare(headers, body))
}

/// "The 'gpt-6.2-sol' model requires a newer version of Codex": our identity
/// (`version`, `User-Agent`) is older than the model's `minimal_client_version`.
pub(super) fn wants_newer_version(message: &str) -> bool {
    message.contains("requires a newer version of Codex")
}

/// The model a backend message names (`The 'x' model …`), if it names one.
pub(super) fn quoted_model(message: &str) -> Option<String> {
    let rest = message.get(message.find('\'')? + 1..)?;
    let name = &rest[..rest.find('\'')?];
    (!name.is_empty() && name.len() <= 100 && !name.contains(' ')).then(|| name.to_string())
}

/// This account's plan lacks the model ("… is not supported with this ChatGPT
/// plan", "… not available on your plan").
pub(super) fn plan_lacks_model(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("plan") && (m.contains("not supported") || m.contains("not available"))
}

/// A field this account's organization may not use (Business workspaces
/// refuse `access_programs.cyber`): `unsupported_parameter` naming it.
pub(super) fn organization_refuses(
    code: Option<&str>,
    json: Option<&Value>,
    message: &str,
) -> bool {
    let param = json
        .and_then(|j| {
            j.pointer("/error/param")
                .or_else(|| j.pointer("/detail/param"))
        })
        .and_then(Value::as_str)
        .unwrap_or("");
    let json_code = json
        .and_then(|j| j.pointer("/error/code"))
        .and_then(Value::as_str);
    let unsupported = code == Some("unsupported_parameter")
        || json_code == Some("unsupported_parameter")
        || message.starts_with("Unsupported parameter");
    unsupported && (param.starts_with("access_programs") || message.contains("access_programs"))
}

/// A safety system's verdict on the content ("This content can't be shown …
/// Trusted Access"): about the request, never the account.
pub(super) fn safety_block(message: &str) -> bool {
    message.contains("This content can't be shown")
        || message.contains("This content can\u{2019}t be shown")
        || message.contains("Trusted Access")
}

/// At most 300 characters of a body, for messages.
pub(super) fn snippet(text: &str) -> String {
    let t = text.trim();
    if t.is_empty() {
        return "empty body".into();
    }
    let mut s: String = t.chars().take(300).collect();
    if s.len() < t.len() {
        s.push('…');
    }
    s
}
