//! The caller's headers on the native model route: which go upstream, and
//! which are the caller's own credentials (kept at the edge).
//!
//! The Codex CLI sends its own ChatGPT login (`Authorization`,
//! `ChatGPT-Account-ID`) on every request. Those never leave the gateway: the
//! pool account's are sent instead (`upstream::Client`). Its identity headers
//! are forwarded so upstream sees the official client (docs/upstream.md §2),
//! except what is bound to the caller's own account or workspace
//! (docs/codex-native.md §3).

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderName, HeaderValue};

/// The Codex CLI's identity headers, forwarded as they came.
const IDENTITY: [&str; 11] = [
    "originator",
    "version",
    "user-agent",
    "session-id",
    "thread-id",
    "x-client-request-id",
    "x-codex-window-id",
    "x-codex-routing-hint",
    "x-codex-beta-features",
    "x-codex-turn-metadata",
    // Tells the backend the body is in the Responses-Lite shape (tools in an
    // `additional_tools` input item): the body means nothing without it.
    "x-openai-internal-codex-responses-lite",
];

/// The longest identity header forwarded; the turn metadata is the longest
/// the CLI sends (a few hundred bytes).
const MAX_VALUE_BYTES: usize = 8 * 1024;

/// The identity headers to send upstream. Not among them, on purpose:
/// `x-codex-turn-state` (a sticky-routing token valid only on the account
/// that issued it: the pool walk adds it back for that account alone,
/// `src/affinity.rs`) and
/// `x-openai-account-routing-override` (the caller's own workspace routing).
pub(super) fn identity(headers: &HeaderMap) -> Vec<(HeaderName, HeaderValue)> {
    IDENTITY
        .iter()
        .filter_map(|name| {
            let value = headers.get(*name)?;
            let ok = value.len() <= MAX_VALUE_BYTES
                && value
                    .as_bytes()
                    .iter()
                    .all(|b| *b == b'\t' || (0x20..0x7f).contains(b));
            ok.then(|| (HeaderName::from_static(name), value.clone()))
        })
        .collect()
}

/// Takes the caller's ChatGPT login off the request, leaving what presents a
/// client key: `x-api-key` (the documented team setup: a provider block with
/// `env_http_headers`), or an `Authorization` bearer that is not a ChatGPT
/// token (a provider's `experimental_bearer_token`). A JWT in `Authorization`
/// is the caller's own login, never a client key.
pub(super) fn strip_caller_login(headers: &mut HeaderMap) {
    headers.remove("chatgpt-account-id");
    let login = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_jwt_bearer);
    if login || headers.contains_key("x-api-key") {
        headers.remove(AUTHORIZATION);
    }
}

/// `Bearer a.b.c` with three base64url parts: a ChatGPT access token.
fn is_jwt_bearer(v: &str) -> bool {
    let token = v.trim();
    let token = token
        .strip_prefix("Bearer ")
        .or_else(|| token.strip_prefix("bearer "))
        .unwrap_or(token)
        .trim();
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3
        && parts[..2].iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn identity_headers_go_credentials_and_account_bound_ones_do_not() {
        let h = map(&[
            ("originator", "codex_exec"),
            ("x-codex-window-id", "t:0"),
            ("authorization", "Bearer a.b.c"),
            ("chatgpt-account-id", "acct-mine"),
            ("x-codex-turn-state", "ts-1"),
            ("x-openai-account-routing-override", "us"),
            ("cookie", "c=1"),
        ]);
        let names: Vec<String> = identity(&h).iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(names, ["originator", "x-codex-window-id"]);
    }

    #[test]
    fn the_callers_login_is_taken_off_and_a_client_key_stays() {
        let mut h = map(&[
            ("authorization", "Bearer eyJhbGciOiJub25lIn0.eyJ4IjoxfQ.sig"),
            ("chatgpt-account-id", "acct-mine"),
        ]);
        strip_caller_login(&mut h);
        assert!(h.is_empty(), "{h:?}");
        let mut h = map(&[("authorization", "Bearer sk-pool-abc")]);
        strip_caller_login(&mut h);
        assert_eq!(h.get("authorization").unwrap(), "Bearer sk-pool-abc");
        let mut h = map(&[("authorization", "Bearer sk-pool-abc"), ("x-api-key", "k")]);
        strip_caller_login(&mut h);
        assert!(h.get("authorization").is_none());
        assert_eq!(h.get("x-api-key").unwrap(), "k");
    }
}
