//! HTTP conversations on kept upstream sockets (`[upstream] bridge_http`,
//! docs/websocket.md): one account's try at an HTTP request of a
//! conversation, on that conversation's upstream socket instead of a POST.
//!
//! The pool walk (`proxy.rs`) places the request and handles failover as for
//! any request; this replaces only how one account is sent it. When the
//! translated input extends the conversation's last turn on the same account
//! (that turn's whole input, then its answer's output items, then new items;
//! every other field the same: `bridge/items.rs`), the socket gets a
//! continuation — `previous_response_id` and the new items. Otherwise it
//! gets the full request (opening a socket first, within the limits), so the
//! next turn can continue. What the client gets is what HTTP gives: the
//! socket's frames become the same SSE events, or one collected answer.
//!
//! Anything the socket cannot do goes over HTTP as before: a socket failure
//! before the first output (`previous_response_not_found`, a closed or aged
//! socket, an error event) resends the full request over HTTP on the same
//! account, transparently; a usage or rate limit is the walk's, which moves
//! to the next account; limits reached, a busy conversation, a turn-state
//! token, or upstream without WebSocket: HTTP from the start.

mod items;
mod pump;

use std::sync::Arc;

use http::HeaderMap;
use tokio::time::Instant;

use super::attempt::{self, AttemptError, Delivery, Mode};
use super::Call;
use crate::app::{App, Snapshot};
use crate::pool::Account;
use crate::route::Route;
use crate::upstream::ws::kept::{Lease, Limits, Taken, MAX_AGE};
use crate::upstream::ws::ConnectError;
use crate::upstream::Failure;

/// Why a turn did not (or did not stay) on a socket.
enum Miss {
    /// Not sent: HTTP from the start (`http`).
    Http,
    /// Failed on the socket before any output: resent over HTTP (`resent`).
    Resend(Failure),
    /// The account's own limit: the walk's to handle, as over HTTP.
    Account(Failure),
}

/// One account's try at `call`: on the conversation's socket when the
/// bridge takes it, else (or after a socket failure) `attempt::attempt`.
pub(super) async fn attempt(
    app: &App,
    snap: &Snapshot,
    account: &Arc<Account>,
    call: &Call,
    mode: Mode,
) -> Result<(HeaderMap, Delivery), AttemptError> {
    let cfg = &snap.config.upstream;
    let bridged = cfg.bridge.enabled
        && matches!(call.route, Route::Chat | Route::Responses)
        && call.conversation.turn_state.is_none()
        && cfg.websocket != crate::config::UpstreamWebSocket::Never;
    if !bridged {
        return attempt::attempt(app, snap, account, call, mode).await;
    }
    match on_socket(app, snap, account, call, mode).await {
        Ok((headers, delivery, kind)) => {
            app.metrics.bridge.turn(call.route, kind);
            Ok((headers, delivery))
        }
        Err(Miss::Account(f)) => Err(f.into()),
        Err(Miss::Http) => {
            app.metrics.bridge.turn(call.route, "http");
            attempt::attempt(app, snap, account, call, mode).await
        }
        Err(Miss::Resend(f)) => {
            tracing::debug!(request_id = %call.request_id, account = %account.name, error = %f,
                "the conversation's socket failed before output; sending the whole request over HTTP");
            app.metrics.bridge.turn(call.route, "resent");
            attempt::attempt(app, snap, account, call, mode).await
        }
    }
}

async fn on_socket(
    app: &App,
    snap: &Snapshot,
    account: &Arc<Account>,
    call: &Call,
    mode: Mode,
) -> Result<(HeaderMap, Delivery, &'static str), Miss> {
    let cfg = &snap.config.upstream;
    let req = items::Request::parse(&call.body).ok_or(Miss::Http)?;
    let (mut lease, thread) = lease(app, snap, account, call).await?;
    // Blobs another account produced are not sent: a full request without them.
    let stripped = attempt::body_for(app, call, account, false);
    let from = match (&thread, &stripped) {
        (Some(t), None) => req.extends(t).map(|from| (from, t.response_id.as_str())),
        _ => None,
    };
    let frame = match from {
        Some((from, previous)) => req.continuation(previous, from),
        None => items::full(stripped.as_ref().unwrap_or(&call.body)).ok_or(Miss::Http)?,
    };
    let kind = if from.is_some() { "continued" } else { "full" };
    let socket = lease.socket.as_mut().ok_or(Miss::Http)?;
    socket.send(frame).await.map_err(Miss::Resend)?;
    let mut pending = pump::Pending {
        rest: req.rest,
        input: req.digests,
        output: Vec::new(),
    };
    let head = pump::hold_back(
        app,
        account,
        &mut lease,
        cfg.first_byte_timeout,
        &mut pending,
    )
    .await
    .map_err(|f| match f {
        Failure::UsageLimited { .. }
        | Failure::UsageNotIncluded { .. }
        | Failure::RateLimited { .. } => Miss::Account(f),
        f => Miss::Resend(f),
    })?;
    tracing::debug!(request_id = %call.request_id, account = %account.name, kind, "turn on the conversation's upstream socket");
    let headers = head.headers.clone();
    let delivery = match mode {
        Mode::Stream => pump::stream(app.bridge.clone(), lease, head, pending, cfg.idle_timeout),
        Mode::Collect => pump::collect(&app.bridge, lease, head, pending, cfg.idle_timeout)
            .await
            .map_err(Miss::Resend)?,
    };
    Ok((headers, delivery, kind))
}

/// The conversation's socket on `account` (with its thread), or a new one
/// within the limits. Another account's socket is closed: the conversation
/// moved.
async fn lease(
    app: &App,
    snap: &Snapshot,
    account: &Arc<Account>,
    call: &Call,
) -> Result<(Lease, Option<crate::upstream::ws::kept::Thread>), Miss> {
    match app.bridge.take(call.conversation.id) {
        Taken::Busy => return Err(Miss::Http),
        Taken::Some(lease, thread)
            if *lease.account == *account.name
                && lease.socket.as_ref().is_some_and(|s| s.age() < MAX_AGE) =>
        {
            return Ok((*lease, thread));
        }
        // Moved, or too old: closed (the lease's drop), and a fresh one below.
        Taken::Some(..) | Taken::None => {}
    }
    if app.bridge.refused(Instant::now()) {
        return Err(Miss::Http);
    }
    let b = &snap.config.upstream.bridge;
    let limits = Limits {
        per_account: b.per_account,
        total: b.max_sockets,
        idle: b.idle_timeout,
    };
    let mut lease = app
        .bridge
        .reserve(call.conversation.id, &account.name, limits)
        .ok_or(Miss::Http)?;
    lease.socket = Some(open(app, snap, call, account).await?);
    Ok((lease, None))
}

/// A new upstream socket with `account`'s token (refreshed once on a 401).
async fn open(
    app: &App,
    snap: &Snapshot,
    call: &Call,
    account: &Arc<Account>,
) -> Result<crate::upstream::ws::Socket, Miss> {
    let opened = super::socket::connect(app, snap, call, account).await;
    match opened {
        Ok(s) => Ok(s),
        Err(ConnectError::Refused(status)) => {
            tracing::info!(
                status = status.as_u16(),
                "upstream refused the WebSocket upgrade; HTTP conversations stay on HTTP for a while"
            );
            app.bridge.refuse(Instant::now());
            Err(Miss::Http)
        }
        Err(ConnectError::Failed(f)) => Err(Miss::Resend(f)),
    }
}
