//! The admin API under `/admin/*`, served only when `[admin]` sets `token`
//! or `token_sha256`.
//!
//! Bearer token compared in constant time, as SHA-256 digests. Accounts
//! (state, quota, counters), the last routing decisions, reload, and
//! per-account disable/enable/refresh.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::time::Instant;

use super::error::{ApiError, Code};
use crate::app::{App, Snapshot};
use crate::clock;
use crate::pool::{Account, Blame, Policy, Setback, State};
use crate::server::body::{self, Body};
use crate::server::request;

/// Whether the request presents the admin token (never true without one set).
pub(super) fn presents_token(snap: &Snapshot, headers: &http::HeaderMap) -> bool {
    let Some(token) = snap.config.admin_token.as_ref() else {
        return false;
    };
    // Digests of equal length: the comparison takes the same time whatever
    // the presented token's length. The configured digest was computed once,
    // when the config was read (`[admin] token` or `token_sha256`).
    let presented = Sha256::digest(request::client_key(headers).unwrap_or("").as_bytes());
    bool::from(presented.as_slice().ct_eq(&token.sha256))
}

pub(super) async fn handle(app: &Arc<App>, req: Request<Incoming>) -> Response<Body> {
    let snap = app.snapshot();
    if snap.config.admin_token.is_none() {
        return ApiError::not_found(req.uri().path()).into_response();
    }
    if !presents_token(&snap, req.headers()) {
        return ApiError::unauthorized("missing or wrong admin token").into_response();
    }
    let path = req.uri().path().to_string();
    dispatch(app, req, &path).await
}

/// The admin route at `path` (`/admin/...`), its caller already admitted
/// (the admin token here, the console's session in `console/`).
pub(super) async fn dispatch(app: &Arc<App>, req: Request<Incoming>, path: &str) -> Response<Body> {
    let snap = app.snapshot();
    let path = path.to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (req.method(), parts.as_slice()) {
        (&Method::GET, ["admin", "accounts"]) => {
            let list: Vec<Value> = snap
                .pool
                .accounts()
                .iter()
                .map(|a| account_json(a))
                .collect();
            body::json(StatusCode::OK, &json!({"accounts": list}))
        }
        (&Method::GET, ["admin", "pool", "activity"]) => {
            let limit = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("limit="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(100usize);
            body::json(
                StatusCode::OK,
                &json!({"decisions": app.activity.recent(limit)}),
            )
        }
        (&Method::GET, ["admin", "usage"]) => super::usage::admin(app, &query, req.headers()).await,
        (&Method::POST, ["admin", "reload"]) => match crate::reload::reload(app, "admin").await {
            Ok(later) => body::json(
                StatusCode::OK,
                &json!({"status": "reloaded", "restart_required": later}),
            ),
            Err(e) => body::json(
                StatusCode::BAD_REQUEST,
                &json!({"error": {"message": e.to_string(), "type": "invalid_request_error", "param": null, "code": "invalid_config"},
                        "problems": e.problems()}),
            ),
        },
        (&Method::POST, ["admin", "accounts", name, action]) => {
            let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
            let name = name.as_ref();
            let Some(account) = snap
                .pool
                .accounts()
                .iter()
                .find(|a| a.name == *name)
                .cloned()
            else {
                return ApiError::new(Code::AccountNotFound, format!("no account named {name:?}"))
                    .into_response();
            };
            match *action {
                "disable" => account.disable_by_admin(),
                "enable" => {
                    account.enable_by_admin();
                    if account.credentials().is_none() {
                        let _ = account.load_credentials();
                    }
                }
                "refresh" => {
                    let stale = match account.credentials() {
                        Some(c) => c,
                        None => {
                            if let Err(e) = account.load_credentials() {
                                return ApiError::with_status(
                                    StatusCode::CONFLICT,
                                    Code::AccountAuthFailed,
                                    e.to_string(),
                                )
                                .into_response();
                            }
                            return body::json(StatusCode::OK, &account_json(&account));
                        }
                    };
                    if let Err(e) = app.refresh_login(&account, &stale).await {
                        let policy = Policy::of(&snap.config.pool);
                        account.failed(Some(&Setback::from(&e)), Blame::Account, policy);
                        return ApiError::new(Code::AccountAuthFailed, e.to_string())
                            .into_response();
                    }
                }
                other => {
                    return ApiError::not_found(&format!("/admin/accounts/{name}/{other}"))
                        .into_response();
                }
            }
            body::json(StatusCode::OK, &account_json(&account))
        }
        (_, ["admin", "accounts" | "reload" | "usage"])
        | (_, ["admin", "pool", "activity"])
        | (_, ["admin", "accounts", _, _]) => {
            ApiError::method_not_allowed(req.method(), &path).into_response()
        }
        _ => ApiError::not_found(&path).into_response(),
    }
}

/// What `/admin/accounts` says of one account.
pub(super) fn account_json(a: &Account) -> Value {
    let now = Instant::now();
    let (state, reason, until) = {
        let h = a.health();
        let state = h.shown_state(now);
        let reason = (state != State::Ready)
            .then(|| h.reason().map(str::to_owned))
            .flatten();
        (state, reason, h.until_wall(now))
    };
    let state = if a.settings().enabled {
        state
    } else {
        State::Disabled
    };
    let creds = a.credentials();
    let cooling_until = until.filter(|_| state == State::Cooling);
    json!({
        "name": a.name,
        "account_id": creds.as_ref().and_then(|c| c.account_id.clone()),
        "email": creds.as_ref().and_then(|c| c.email.clone()),
        "plan": creds.as_ref().and_then(|c| c.plan.clone()).or_else(|| a.quota().and_then(|q| q.plan)),
        "state": state.as_str(),
        "reason": reason,
        "cooling_until": cooling_until.map(crate::clock::rfc3339_seconds),
        "cooling_until_unix": cooling_until.map(clock::unix),
        "token_expires_at": creds.as_ref().and_then(|c| c.expires_at),
        "priority": a.settings().priority,
        "quota": a.quota(),
        "last_error": a.last_error(),
        // Rotated tokens the auth file could not take: a restart now loses the login.
        "unsaved": a.has_unsaved_login(),
        // With [store]: the auth file could not take the store's login (its backup).
        "backup_failed": a.tokens.mirror.backup_failed(),
        // With [store]: a rotated login the store refused, kept here and retried.
        "store_pending": a.tokens.mirror.store_pending(),
        // With [store]: the store's login does not open with this replica's key.
        "store_unreadable": a.tokens.mirror.unreadable(),
        "requests": a.requests.load(Ordering::Relaxed),
        "failures": a.failures.load(Ordering::Relaxed),
    })
}
