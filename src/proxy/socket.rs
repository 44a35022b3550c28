//! The pool walk for one turn on an upstream WebSocket (docs/websocket.md).
//!
//! A client socket keeps one account and one upstream socket (`Pinned`)
//! while that account serves. A turn goes to it first; when it cannot serve
//! (cooling, disabled, no login) or fails before any output, the turn moves
//! like an HTTP request does, with one difference: a continuation
//! (`previous_response_id`) refers to state only the old upstream socket
//! holds, so it cannot move — the walk answers `PreviousResponseNotFound`
//! and the client's full resend is what moves.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

mod frames;

pub(crate) use frames::failure_of;
use frames::{frame_for, is_age_limit};

use super::{attempt, Call, ServeError};
use crate::app::{App, Snapshot};
use crate::pool::activity::{Attempt, Decision};
use crate::pool::Account;
use crate::upstream::events::{Event, Kind};
use crate::upstream::ws::{ConnectError, Socket};
use crate::upstream::Failure;

/// Events held back before the first output, at most (as on HTTP).
const HOLD_BACK_LIMIT: usize = 256;

/// An upstream socket and the account whose token opened it. Usable without
/// a client socket: it is only an account's open line to upstream.
/// The account stays pinned while its socket is replaced (age, a death
/// between turns): `socket` is `None` until the next turn opens one.
pub(crate) struct Pinned {
    pub account: Arc<Account>,
    pub socket: Option<Socket>,
}

impl Pinned {
    /// Closes the socket, keeping the account (counted).
    pub(crate) async fn drop_socket(&mut self, app: &App) {
        if let Some(s) = self.socket.take() {
            app.metrics.socket.open("upstream", -1);
            s.close().await;
        }
    }
}

/// A turn that upstream started: the events held back so far (ending in the
/// first output, or in a terminal event), relayed by the caller.
pub(crate) struct Started {
    pub account: Arc<Account>,
    pub held: Vec<String>,
    /// A held event ends the turn (an error upstream gave that no other
    /// account would answer differently, or a turn without output).
    pub ended: bool,
    pub upstream_wait: Duration,
    /// Served over HTTP upstream (`server/ws/fallback.rs`): the rest of the
    /// turn comes from this stream, not from a socket.
    pub rest: Option<crate::upstream::sse::EventStream>,
}

#[derive(Debug)]
pub(crate) enum TurnError {
    /// As on HTTP: no account, or every one failed.
    Serve(ServeError),
    /// A continuation whose account could not serve it (`account`, why).
    PreviousResponseNotFound { account: String, why: &'static str },
    /// Upstream does not speak WebSocket (the upgrade was refused).
    NoWebSocket,
}

/// One failed try: what it did to the account, and whether to go on.
enum Tried {
    Failed(Failure),
    Refused,
}

/// Walks the candidates for one turn; `pinned` is the client socket's
/// upstream socket, replaced when the turn moves.
pub(crate) async fn start(
    app: &App,
    snap: &Snapshot,
    call: &Call,
    continuation: bool,
    pinned: &mut Option<Pinned>,
) -> Result<Started, TurnError> {
    let key_cfg = call.key.as_ref().map(|k| &k.config);
    let strategy = key_cfg
        .and_then(|k| k.strategy)
        .unwrap_or(snap.config.pool.strategy);
    let scope = key_cfg.and_then(|k| k.accounts.as_deref());
    if continuation && pinned.as_ref().is_none_or(|p| p.socket.is_none()) {
        // The response it continues lived on an upstream socket that is gone.
        return Err(TurnError::PreviousResponseNotFound {
            account: String::new(),
            why: "its upstream socket closed",
        });
    }
    let mut decision = decision(call, strategy.as_str());
    let sticky: Option<Arc<str>> = pinned.as_ref().map(|p| Arc::from(p.account.name.as_str()));
    let enabled = snap.config.affinity.enabled;
    let preferred = sticky.clone().or_else(|| {
        let c = &call.conversation;
        app.affinity.preferred(c, strategy, enabled).map(|(a, _)| a)
    });
    let planned = snap.pool.plan_for(strategy, scope, preferred.as_deref());
    let candidates = match planned {
        Ok((c, _)) => c,
        Err(x) => {
            app.activity.record(decision);
            return Err(TurnError::Serve(ServeError::NoCandidate(x)));
        }
    };
    let pool_cfg = &snap.config.pool;
    let policy = crate::pool::Policy::of(pool_cfg);
    let mut failures = Vec::new();
    let mut upstream_wait = Duration::ZERO;
    for account in &candidates {
        let moving = pinned
            .as_ref()
            .is_some_and(|p| p.account.name != account.name);
        if continuation && moving {
            app.activity.record(decision);
            return Err(TurnError::PreviousResponseNotFound {
                account: sticky.as_deref().unwrap_or("").to_string(),
                why: "its account cannot serve",
            });
        }
        let Some(claimed) = account.claim(Instant::now()) else {
            decision
                .attempts
                .push(attempt_row(account, "skipped", None, 0));
            continue;
        };
        if moving {
            close(app, pinned.take()).await;
        }
        let began = Instant::now();
        let tried = try_account(app, snap, call, account, pinned, continuation).await;
        let took = began.elapsed();
        upstream_wait += took;
        let millis = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
        match tried {
            Ok(mut started) => {
                claimed.succeeded();
                app.metrics.attempt(&account.name, "ok", took);
                decision
                    .attempts
                    .push(attempt_row(account, "ok", Some(200), millis));
                decision.served_by = Some(account.name.clone());
                app.activity.record(decision);
                app.affinity
                    .served(&call.conversation, &account.name, None)
                    .await;
                started.upstream_wait = upstream_wait;
                return Ok(started);
            }
            Err(Tried::Refused) => {
                drop(claimed);
                app.activity.record(decision);
                return Err(TurnError::NoWebSocket);
            }
            Err(Tried::Failed(failure)) => {
                let kind = failure.kind();
                app.metrics.attempt(&account.name, kind, took);
                account.set_last_error(kind);
                // As on HTTP: an account's own failure cools it at once; one
                // that may be upstream's counts toward outlier detection.
                let blame = crate::pool::Blame::of(failure.blames_account(), || call.digest());
                claimed.failed(failure.setback().as_ref(), blame, policy);
                decision
                    .attempts
                    .push(attempt_row(account, kind, None, millis));
                if let Some(p) = pinned.as_mut() {
                    p.drop_socket(app).await;
                }
                app.metrics.failover(&account.name, kind);
                app.metrics.socket.failover(kind);
                tracing::info!(request_id = %call.request_id, account = %account.name, reason = kind, error = %failure, "turn failed before output; moving");
                if continuation {
                    app.activity.record(decision);
                    return Err(TurnError::PreviousResponseNotFound {
                        account: account.name.clone(),
                        why: kind,
                    });
                }
                failures.push((account.name.clone(), failure));
            }
        }
    }
    app.activity.record(decision);
    Err(TurnError::Serve(ServeError::AllFailed {
        exhausted: snap.pool.why_exhausted(scope),
        failures,
    }))
}

/// Sends the turn on `account`'s socket (opening one first when there is
/// none) and holds events back until the first output.
async fn try_account(
    app: &App,
    snap: &Snapshot,
    call: &Call,
    account: &Arc<Account>,
    pinned: &mut Option<Pinned>,
    continuation: bool,
) -> Result<Started, Tried> {
    let here = pinned
        .as_ref()
        .is_some_and(|p| p.account.name == account.name && p.socket.is_some());
    if !here {
        let socket = open(app, snap, call, account).await?;
        *pinned = Some(Pinned {
            account: Arc::clone(account),
            socket: Some(socket),
        });
    }
    let frame = String::from_utf8_lossy(&frame_for(app, call, account)).into_owned();
    let Some(socket) = pinned.as_mut().and_then(|p| p.socket.as_mut()) else {
        return Err(Tried::Failed(Failure::StreamTruncated));
    };
    // A turn-state in a fresh socket's `101` reaches the client as the frame
    // that carries it otherwise.
    let greeting = if here {
        None
    } else {
        socket.handshake_metadata()
    };
    socket.send(frame.clone()).await.map_err(Tried::Failed)?;
    let mut held = hold_back(app, snap, account, socket).await?;
    if let Some(g) = greeting {
        app.affinity.observe_frame(&g, &account.name);
        held.held.insert(0, g);
    }
    if !(held.ended && is_age_limit(&held.held) && !continuation) {
        return Ok(held);
    }
    // The backend's socket-age limit on a full request: the same account on
    // a fresh socket (a continuation gets the error, as the backend sent it).
    tracing::debug!(account = %account.name, "upstream socket reached its age limit; reopening");
    if let Some(p) = pinned.as_mut() {
        p.drop_socket(app).await;
        let mut fresh = open(app, snap, call, account).await?;
        fresh.send(frame).await.map_err(Tried::Failed)?;
        let held = hold_back(app, snap, account, &mut fresh).await;
        p.socket = Some(fresh);
        return held;
    }
    Ok(held)
}

/// A new upstream socket for `account`.
async fn open(
    app: &App,
    snap: &Snapshot,
    call: &Call,
    account: &Arc<Account>,
) -> Result<Socket, Tried> {
    match connect(app, snap, call, account).await {
        Ok(socket) => {
            app.metrics.socket.open("upstream", 1);
            Ok(socket)
        }
        Err(ConnectError::Refused(status)) => {
            tracing::info!(
                status = status.as_u16(),
                "upstream refused the WebSocket upgrade"
            );
            Err(Tried::Refused)
        }
        Err(ConnectError::Failed(f)) => Err(Tried::Failed(f)),
    }
}

/// Opens an upstream socket with `account`'s token: a fresh one, and on a
/// 401 (an access token upstream stopped taking) the login refreshed once.
/// WebSocket clients' turns and the HTTP bridge both open theirs here.
pub(super) async fn connect(
    app: &App,
    snap: &Snapshot,
    call: &Call,
    account: &Arc<Account>,
) -> Result<Socket, ConnectError> {
    let creds = attempt::fresh_credentials(app, account)
        .await
        .map_err(|e| ConnectError::Failed(e.failure))?;
    let timeout = snap.config.upstream.first_byte_timeout;
    let client = &snap.upstream;
    let opened = client
        .websocket(&creds, &call.session_id, &call.forward, timeout)
        .await;
    if let Err(ConnectError::Failed(Failure::Unauthorized { status: 401, .. })) = &opened {
        if let Ok(fresh) = app.refresh_login(account, &creds).await {
            return client
                .websocket(&fresh, &call.session_id, &call.forward, timeout)
                .await;
        }
    }
    opened
}

/// Reads until the first output (or the turn's end); a failure before it is
/// the walk's to handle.
async fn hold_back(
    app: &App,
    snap: &Snapshot,
    account: &Arc<Account>,
    socket: &mut Socket,
) -> Result<Started, Tried> {
    let wait = snap.config.upstream.first_byte_timeout;
    let mut held = Vec::new();
    loop {
        let next = tokio::time::timeout(wait, socket.next()).await;
        let text = match next {
            Err(_) => {
                return Err(Tried::Failed(Failure::Timeout {
                    phase: "waiting for the turn's first event",
                    after: wait,
                }))
            }
            Ok(Err(f)) => return Err(Tried::Failed(f)),
            Ok(Ok(None)) => return Err(Tried::Failed(Failure::StreamTruncated)),
            Ok(Ok(Some(t))) => t,
        };
        app.affinity.observe_frame(&text, &account.name);
        let event = Event::parse(&text).ok();
        let kind = event.as_ref().map_or(Kind::Other, Event::kind);
        if let Some(f) = failure_of(&text, event.as_ref()) {
            if f.retryable() {
                return Err(Tried::Failed(f));
            }
            held.push(text);
            return Ok(started(account, held, true));
        }
        let ended = matches!(kind, Kind::Completed | Kind::Incomplete);
        held.push(text);
        if kind.is_output() || held.len() >= HOLD_BACK_LIMIT {
            return Ok(started(account, held, ended));
        }
    }
}

fn started(account: &Arc<Account>, held: Vec<String>, ended: bool) -> Started {
    Started {
        account: Arc::clone(account),
        held,
        ended,
        upstream_wait: Duration::ZERO,
        rest: None,
    }
}

/// Closes an upstream socket (counted).
pub(crate) async fn close(app: &App, pinned: Option<Pinned>) {
    if let Some(mut p) = pinned {
        p.drop_socket(app).await;
    }
}

fn decision(call: &Call, strategy: &'static str) -> Decision {
    Decision {
        time: crate::clock::rfc3339_now(),
        request_id: call.request_id.clone(),
        gateway_request_id: call.gateway_request_id.clone(),
        api_key: call.key.as_ref().map(|k| k.config.name.clone()),
        route: call.route.as_str(),
        strategy,
        model: call.model.clone(),
        attempts: Vec::new(),
        served_by: None,
        affinity: String::new(),
    }
}

fn attempt_row(
    account: &Account,
    outcome: &'static str,
    status: Option<u16>,
    millis: u64,
) -> Attempt {
    Attempt {
        account: account.name.clone(),
        outcome,
        status,
        millis,
    }
}
