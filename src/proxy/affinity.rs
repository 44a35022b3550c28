//! Where a conversation goes: the pool walk's first choice when the request
//! belongs to a conversation the gateway has seen, and the request body each
//! account may be sent (without blobs it could not read).
//!
//! In order: a turn-state token goes back to the account that minted it (a
//! hard pin); under `round_robin` a conversation then prefers the account
//! that owns its encrypted blobs, then the one it was last served by (soft:
//! only while that account is usable). Under `primary_first` and
//! `priority_order` the strategy's order wins over soft affinity — spending
//! the first account first is their point — so a conversation that moved
//! while the primary was out moves back when it recovers.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};

use super::Call;
use crate::app::App;
use crate::config::Strategy;
use crate::pool::affinity::{digest, Outcome};
use crate::pool::Account;
use crate::translate::blobs;

/// Why a conversation prefers an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reason {
    TurnState,
    Blobs,
    Conversation,
}

/// The account the conversation should go to, if it has one, and why
/// (`enabled`: the request's own snapshot's `affinity.enabled`).
pub(super) fn preferred(
    app: &App,
    call: &Call,
    strategy: Strategy,
    enabled: bool,
) -> Option<(Arc<str>, Reason)> {
    if !enabled {
        return None;
    }
    preferred_account(app, call, strategy)
}

/// With a shared store: a conversation this replica does not know may be
/// another replica's; ask the store (one round trip, only on a miss here).
pub(super) async fn recall(app: &App, call: &Call) {
    let Some(shared) = app.store.as_ref().filter(|s| s.is_up()) else {
        return;
    };
    let now = tokio::time::Instant::now();
    if app.affinity.conversation(call.conversation, now).is_some() {
        return;
    }
    if let Ok(Some(account)) = shared.conversation(call.conversation).await {
        app.affinity.adopt(call.conversation, &account, now);
    }
}

/// With a shared store: tells the other replicas the conversation's account.
pub(super) async fn share(app: &App, call: &Call, account: &Account) {
    let Some(shared) = app.store.as_ref().filter(|s| s.is_up()) else {
        return;
    };
    let _ = shared
        .pin_conversation(call.conversation, &account.name, app.affinity.ttl())
        .await;
}

/// How the request was placed, given its preference and whether the plan
/// could put that account first.
pub(super) fn outcome(enabled: bool, preferred: Option<Reason>, kept: bool) -> Outcome {
    match (enabled, preferred, kept) {
        (false, _, _) => Outcome::Off,
        (true, None, _) => Outcome::New,
        (true, Some(_), true) => Outcome::Kept,
        (true, Some(reason), false) => Outcome::Moved(match reason {
            Reason::TurnState => "the account that minted its turn-state cannot serve",
            Reason::Blobs => "the account that owns its encrypted content cannot serve",
            Reason::Conversation => "its account cannot serve",
        }),
    }
}

fn preferred_account(app: &App, call: &Call, strategy: Strategy) -> Option<(Arc<str>, Reason)> {
    let table = &app.affinity;
    if let Some(a) = call
        .turn_state
        .as_deref()
        .and_then(|t| table.turn_state(t.as_bytes()))
    {
        return Some((a, Reason::TurnState));
    }
    if strategy != Strategy::RoundRobin {
        return None;
    }
    if let Some(a) = call.blobs.iter().rev().find_map(|d| table.blob_owner(*d)) {
        return Some((a, Reason::Blobs));
    }
    table
        .conversation(call.conversation, tokio::time::Instant::now())
        .map(|a| (a, Reason::Conversation))
}

/// The body `account` may be sent: without the blobs another account produced
/// (`all`: without every blob, after upstream refused one anyway). `None`:
/// the body as it is. Counts what was removed.
pub(super) fn body_for(app: &App, call: &Call, account: &Account, all: bool) -> Option<Bytes> {
    if call.blobs.is_empty() {
        return None;
    }
    let foreign = |d: u64| {
        all || app
            .affinity
            .blob_owner(d)
            .is_some_and(|owner| *owner != *account.name)
    };
    if !call.blobs.iter().any(|d| foreign(*d)) {
        return None;
    }
    let mut body: serde_json::Value = serde_json::from_slice(&call.body).ok()?;
    let removed = blobs::strip(&mut body, |b| !foreign(digest(b.as_bytes())));
    app.metrics.blobs_stripped(&account.name, removed as u64);
    tracing::info!(request_id = %call.request_id, account = %account.name, removed, every = all,
        "removed encrypted content this account cannot read");
    serde_json::to_vec(&body).ok().map(Bytes::from)
}

/// The client headers `account` is sent: the caller's turn-state token only
/// to the account that minted it (another account would refuse it; the
/// request then goes without it, `docs/upstream.md` §8).
pub(super) fn headers_for<'c>(
    app: &App,
    call: &'c Call,
    account: &Account,
) -> std::borrow::Cow<'c, [(HeaderName, HeaderValue)]> {
    let minted_here = call
        .turn_state
        .as_deref()
        .and_then(|t| app.affinity.turn_state(t.as_bytes()))
        .is_some_and(|owner| *owner == *account.name);
    let token = call
        .turn_state
        .as_deref()
        .and_then(|t| HeaderValue::from_str(t).ok())
        .filter(|_| minted_here);
    match token {
        Some(t) => {
            let mut all = call.forward.clone();
            all.push((HeaderName::from_static(super::TURN_STATE), t));
            std::borrow::Cow::Owned(all)
        }
        None => std::borrow::Cow::Borrowed(&call.forward),
    }
}
