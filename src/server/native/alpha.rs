//! `/backend-api/codex/alpha/history/v2/*` and `/alpha/notes/v2/*`: the
//! history and notes the backend keeps for a conversation (the Codex CLI's
//! experimental context manager), stored by the account that wrote them.
//!
//! Forwarded through the pool to the account that serves the conversation
//! (its `session-id` / `thread-id` in the affinity tables, the same key the
//! model route uses), with that account's token and never the caller's;
//! with no known account, to the account the next request would use.
//! The trade-off: history and notes written on one account are not visible
//! from another, so a conversation that moves account (a cooldown, a
//! limit) finds none of what it wrote before (docs/codex-native.md).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use super::super::body::{self, Body};
use super::super::ctx::authorize;
use super::super::error::{ApiError, Code};
use super::super::Shared;
use super::forward;
use crate::pool::Account;

/// The largest body forwarded (notes and history pages are small JSON).
const MAX_BODY: usize = 1 << 20;
const TIMEOUT: Duration = Duration::from_secs(30);

/// Whether `sub` (the path under `/backend-api`) is one of these routes.
pub(super) fn owns(sub: &str) -> bool {
    sub.starts_with("/codex/alpha/history/v2/") || sub.starts_with("/codex/alpha/notes/v2/")
}

pub(super) async fn handle(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
    sub: &str,
) -> Response<Body> {
    let (mut parts, incoming) = req.into_parts();
    forward::strip_caller_login(&mut parts.headers);
    let key = match authorize(shared, &parts.headers) {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    let Some(account) = account_for(shared, &parts.headers, key.as_ref().map(|k| k.name())) else {
        return ApiError::new(
            Code::PoolExhausted,
            "no account can serve this conversation's history now",
        )
        .into_response();
    };
    let Some(creds) = account.credentials() else {
        return ApiError::new(
            Code::AccountAuthFailed,
            format!("account {} has no login loaded", account.name),
        )
        .into_response();
    };
    let body = match tokio::time::timeout(TIMEOUT, Limited::new(incoming, MAX_BODY).collect()).await
    {
        Ok(Ok(c)) => c.to_bytes(),
        _ => return ApiError::too_large(MAX_BODY).into_response(),
    };
    let snap = shared.app.snapshot();
    let root = snap
        .config
        .upstream
        .base_url
        .strip_suffix("/codex")
        .unwrap_or(&snap.config.upstream.base_url);
    let query = parts
        .uri
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let url = format!("{root}{sub}{query}");
    match snap
        .upstream
        .pass(parts.method, &url, &creds, body, TIMEOUT)
        .await
    {
        Ok(p) => answer(p.status, p.content_type, p.body, &account.name),
        Err(f) => {
            tracing::info!(account = %account.name, path = sub, error = %f, "history/notes request failed upstream");
            let mut r = ApiError::from(&f).into_response();
            tag(&mut r, &account.name);
            r
        }
    }
}

/// The conversation's account if the affinity tables know it and it is
/// usable; else the first account a request would be planned on now.
fn account_for(
    shared: &Shared,
    headers: &http::HeaderMap,
    key: Option<&str>,
) -> Option<Arc<Account>> {
    let snap = shared.app.snapshot();
    let session = ["session-id", "thread-id", "session_id", "conversation_id"]
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()));
    let now = tokio::time::Instant::now();
    let known = session
        .and_then(|s| shared.app.affinity.last_account(key, s))
        .and_then(|name| {
            snap.pool
                .accounts()
                .iter()
                .find(|a| *a.name == *name)
                .cloned()
        })
        .filter(|a| a.availability(now).usable());
    // A side request does not move the rotation on.
    known.or_else(|| snap.pool.peek(snap.config.pool.strategy, None).ok()?)
}

fn answer(
    status: StatusCode,
    ct: Option<HeaderValue>,
    bytes: Bytes,
    account: &str,
) -> Response<Body> {
    let mut r = Response::new(body::full(bytes));
    *r.status_mut() = status;
    if let Some(ct) = ct {
        r.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    tag(&mut r, account);
    r
}

fn tag(r: &mut Response<Body>, account: &str) {
    if let Ok(v) = HeaderValue::from_str(account) {
        r.headers_mut().insert("x-codex-pool-account", v);
    }
}
