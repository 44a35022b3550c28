//! `GET /healthz` (the process is up) and `GET /readyz` (an account can serve;
//! `degraded` says so while the shared store does not answer).

use http::{Response, StatusCode};
use serde_json::json;

use super::body::{self, Body};
use crate::app::App;
use crate::pool::Availability;

pub(super) fn healthz() -> Response<Body> {
    body::json(StatusCode::OK, &json!({"status": "ok"}))
}

/// Off loopback, the answer says only whether and how many accounts can
/// serve: account names and reasons are for the admin API.
pub(super) fn readyz(app: &App, loopback: bool) -> Response<Body> {
    let snap = app.snapshot();
    let now = tokio::time::Instant::now();
    let mut accounts = Vec::new();
    let mut ready = 0;
    for a in snap.pool.accounts() {
        let avail = a.availability(now);
        let usable = avail.usable() && a.credentials().is_some();
        ready += usize::from(usable);
        let reason = match avail {
            Availability::Ready | Availability::Probation if usable => None,
            Availability::Ready | Availability::Probation => Some("no usable login".to_string()),
            Availability::Probing => Some("on probation".into()),
            Availability::Cooling { reason, .. } => Some(format!("cooling ({reason})")),
            Availability::Disabled { reason } => Some(format!("disabled ({reason})")),
            Availability::NeedsRelogin { reason } => Some(format!("needs_relogin ({reason})")),
        };
        accounts.push(json!({"name": a.name, "usable": usable, "reason": reason}));
    }
    let (status, mut answer) = if ready > 0 {
        (
            StatusCode::OK,
            json!({"status": "ready", "usable_accounts": ready}),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "not_ready", "reason": "no account can serve requests", "usable_accounts": 0}),
        )
    };
    // Still ready without the shared store (each replica serves from what
    // it knows), but the load balancer's operator should know.
    if app.store.as_ref().is_some_and(|s| !s.is_up()) {
        answer["degraded"] = json!(
            "store unavailable: serving from this replica's last known state with local limits; no token refresh until it is back"
        );
    } else if app.store.is_some() && snap_accounts_unreadable(app) {
        answer["degraded"] = json!(
            "a login in the store does not open with this replica's encryption key: no token refresh for it; give every replica the same store.encryption_key_file"
        );
    }
    if loopback {
        answer["accounts"] = json!(accounts);
    }
    body::json(status, &answer)
}

/// Whether a stored login does not open here (`auth::mirror`).
fn snap_accounts_unreadable(app: &crate::app::App) -> bool {
    app.snapshot()
        .pool
        .accounts()
        .iter()
        .any(|a| a.tokens.mirror.unreadable())
}
