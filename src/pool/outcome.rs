//! What a failure does to an account: the one place it is decided, for an
//! attempt before the first byte (`Claimed::failed`, which may hold the
//! account's probe), a failure after it (`Account::failed`, from the record
//! phase), and a refresh of the login outside a request.
//!
//! The policy: a failure without a setback says nothing about the account
//! (a probe it held is given back). The account's own failure (its quota, its
//! login, a 429 for it) applies its setback at once. One that may be
//! upstream's (a 5xx, a timeout, a broken stream) counts toward outlier
//! detection: the account cools only after `outlier_failures` of them from
//! different requests in a row, or at once when the request was its probe.
//! A background refresh changes the account only when the login is dead.

use std::time::Duration;

use tokio::time::Instant;

use super::{Account, Claimed, Health, Setback};
use crate::config::PoolConfig;

/// Whose fault a failure is, as far as the account can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The account's own: its setback applies at once.
    Account,
    /// Maybe upstream's, for the request whose body digest is `request`
    /// (`proxy::body_digest`): counted toward outlier detection.
    Suspect { request: u64 },
    /// A refresh of the login outside any request failed: only a dead login
    /// changes the account; anything else is tried again on the next round
    /// while the account serves on its current token.
    Refresh,
}

impl Blame {
    /// The blame of a failure of a request: the account's own when the
    /// failure says so (`upstream::Failure::blames_account`), else a suspect
    /// of the request whose body digest `request` gives.
    pub fn of(blames_account: bool, request: impl FnOnce() -> u64) -> Blame {
        if blames_account {
            Blame::Account
        } else {
            Blame::Suspect { request: request() }
        }
    }
}

/// What the failure did to the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Nothing: the failure says nothing about the account.
    Nothing,
    /// Counted toward outlier detection; `cooled` when that cooled it. A
    /// request's retry budget is spent on these.
    Suspected { cooled: bool },
    /// The setback applied (cooled, disabled, or waiting for a login).
    SetBack,
}

/// The pool settings the policy reads, from the request's own snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub outlier_failures: u32,
}

impl Policy {
    pub fn of(pool: &PoolConfig) -> Policy {
        Policy {
            backoff_base: pool.backoff_base,
            backoff_max: pool.backoff_max,
            outlier_failures: pool.outlier_failures,
        }
    }
}

impl Account {
    /// A failure outside an attempt the pool walk holds: after the first
    /// byte (the record phase), or a refresh of the login.
    pub fn failed(&self, setback: Option<&Setback>, blame: Blame, policy: Policy) -> Effect {
        decide(&mut self.health(), setback, blame, None, policy)
    }
}

impl Claimed<'_> {
    /// The attempt failed; a probe the claim held is settled either way.
    pub fn failed(mut self, setback: Option<&Setback>, blame: Blame, policy: Policy) -> Effect {
        let probe = self.probe.take();
        decide(&mut self.account.health(), setback, blame, probe, policy)
    }
}

/// The policy (`//!` above), on the account's health.
fn decide(
    h: &mut Health,
    setback: Option<&Setback>,
    blame: Blame,
    probe: Option<u64>,
    policy: Policy,
) -> Effect {
    let now = Instant::now();
    let backoff = (policy.backoff_base, policy.backoff_max);
    let effect = match (setback, blame) {
        (None, _) => Effect::Nothing,
        (Some(s), Blame::Refresh) if !matches!(s, Setback::NeedsRelogin { .. }) => Effect::Nothing,
        (Some(s), Blame::Account | Blame::Refresh) => {
            h.on_setback(s, now, backoff.0, backoff.1);
            Effect::SetBack
        }
        (Some(s), Blame::Suspect { request }) => {
            let suspect = (request, policy.outlier_failures, probe.is_some());
            let cooled = h.on_suspect(s, suspect, now, backoff);
            Effect::Suspected { cooled }
        }
    };
    // A setback ends the probe with its verdict; otherwise another request may probe.
    if let (Some(p), Effect::Nothing | Effect::Suspected { cooled: false }) = (probe, effect) {
        h.release(p);
    }
    effect
}

#[cfg(test)]
mod tests;
