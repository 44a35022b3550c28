//! Account health and quota across replicas (`[store]`).
//!
//! `health:<account>` holds the last verdict any replica made about the
//! account (cooling until a wall-clock time, disabled, needs a new login,
//! with its reason); a cooldown's key expires when the cooldown does.
//! `quota:<account>` holds the latest quota reading. Every 250 ms
//! (`background::store_loop`) a replica makes one round: one read of every
//! account's two keys, the merge below, one batch of writes. It publishes
//! what changed here since the last round (`Health::generation`) and adopts
//! what another replica published, so a replica skips an account another saw
//! limited without trying it.
//!
//! The policy is `merge` (health) and `merge_quota`, pure functions:
//! - our own news wins, except a cooldown shorter than the one already
//!   published (another replica's usage limit outlasts our backoff: we adopt
//!   that one) and a cooldown for want of the store (this replica's trouble,
//!   not the account's: not published at all);
//! - another replica's verdict is adopted when it differs from ours; a
//!   needs-login verdict only by a replica that holds the same login (a keyed
//!   digest of its refresh token), not one that already has a newer login;
//! - a verdict we adopted and its replica lifted lifts here too;
//! - the newer quota reading wins.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::{Account, Quota, State};
use crate::clock;
use crate::store::{Redis, Writes};

/// A state one replica tells the others (`ready` is the absence of a verdict).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Cooling,
    Disabled,
    NeedsRelogin,
}

impl Verdict {
    fn of(state: State) -> Option<Verdict> {
        match state {
            State::Ready => None,
            State::Cooling => Some(Verdict::Cooling),
            State::Disabled => Some(Verdict::Disabled),
            State::NeedsRelogin => Some(Verdict::NeedsRelogin),
        }
    }

    fn state(self) -> State {
        match self {
            Verdict::Cooling => State::Cooling,
            Verdict::Disabled => State::Disabled,
            Verdict::NeedsRelogin => State::NeedsRelogin,
        }
    }
}

/// One replica's verdict about an account, as the store keeps it (JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Published {
    pub state: Verdict,
    /// Unix milliseconds a cooldown ends.
    #[serde(default)]
    pub until_ms: Option<u64>,
    #[serde(default)]
    pub usage_limited: bool,
    pub reason: String,
    /// Digest of the login the verdict is about.
    #[serde(default)]
    pub login: Option<String>,
}

/// This replica's view of one account at the start of a round.
#[derive(Debug, Clone, PartialEq)]
pub struct Local {
    /// `Health::generation`: bumped by every change made here.
    pub generation: u64,
    /// What this replica would publish (`None`: ready), and for how long.
    pub verdict: Option<(Published, Option<Duration>)>,
    /// The state is a cooldown for want of the store.
    pub store_outage: bool,
    /// Digest of the login this replica holds.
    pub login: Option<String>,
}

/// What the merge remembers per account between rounds.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Seen {
    generation: u64,
    /// The account's state came from another replica.
    adopted: bool,
    quota: Option<Quota>,
}

/// Another replica's verdict, to take on here.
#[derive(Debug, Clone, PartialEq)]
pub struct Adoption {
    pub state: State,
    /// A cooldown's time left.
    pub left: Option<Duration>,
    pub reason: String,
    pub usage_limited: bool,
}

/// What one round does about one account's health.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Keep,
    /// Tell the other replicas (`ttl`: a cooldown's key expires with it).
    Publish {
        verdict: Published,
        ttl: Option<Duration>,
    },
    /// The account is ready here: remove the verdict.
    Clear,
    Adopt(Adoption),
    /// The verdict we adopted was lifted: ready again.
    AdoptReady,
}

/// The health policy across replicas (module doc). `now_ms`: unix milliseconds.
pub fn merge(local: &Local, remote: Option<&Published>, seen: &mut Seen, now_ms: u64) -> Action {
    if local.generation != seen.generation {
        seen.generation = local.generation;
        seen.adopted = false;
        return match &local.verdict {
            Some(_) if local.store_outage => Action::Keep,
            Some((ours, _)) if outlasted(ours, remote) => {
                let adoption = remote.and_then(|r| adoption(r, local.login.as_deref(), now_ms));
                seen.adopted = adoption.is_some();
                adoption.map_or(Action::Keep, Action::Adopt)
            }
            Some((verdict, ttl)) => Action::Publish {
                verdict: verdict.clone(),
                ttl: *ttl,
            },
            None => Action::Clear,
        };
    }
    let ours = local.verdict.as_ref().map(|(v, _)| v.state);
    match remote {
        Some(r) if seen.adopted || ours != Some(r.state) => {
            match adoption(r, local.login.as_deref(), now_ms) {
                Some(a) => {
                    seen.adopted = true;
                    Action::Adopt(a)
                }
                None => Action::Keep,
            }
        }
        Some(_) => Action::Keep,
        None if seen.adopted => {
            seen.adopted = false;
            Action::AdoptReady
        }
        None => Action::Keep,
    }
}

/// Our cooldown ends before the one already published.
fn outlasted(ours: &Published, remote: Option<&Published>) -> bool {
    ours.state == Verdict::Cooling
        && remote.is_some_and(|r| r.state == Verdict::Cooling && r.until_ms > ours.until_ms)
}

/// `remote` as a state to take on here, unless it says nothing any more: a
/// cooldown that has ended, or a dead login this replica no longer holds.
fn adoption(remote: &Published, ours: Option<&str>, now_ms: u64) -> Option<Adoption> {
    let left = match remote.state {
        Verdict::Cooling => {
            // Bounded as a local cooldown is: a value past that (a bug, or
            // a writer on the path) would cool the account for centuries.
            let longest = super::breaker::LONGEST_COOLDOWN.as_millis() as u64;
            let left = remote
                .until_ms
                .unwrap_or(0)
                .saturating_sub(now_ms)
                .min(longest);
            if left == 0 {
                return None;
            }
            Some(Duration::from_millis(left))
        }
        Verdict::Disabled => None,
        Verdict::NeedsRelogin if remote.login.is_some() && remote.login.as_deref() == ours => None,
        Verdict::NeedsRelogin => return None,
    };
    Some(Adoption {
        state: remote.state.state(),
        left,
        reason: remote.reason.clone(),
        usage_limited: remote.usage_limited,
    })
}

/// What one round does about one account's quota.
#[derive(Debug, Clone, PartialEq)]
pub enum QuotaAction {
    Keep,
    Publish(Quota),
    Adopt(Quota),
}

/// Ours when it changed here since the last round (unless the store's is
/// newer), else the store's when it is newer than ours.
pub fn merge_quota(
    local: Option<&Quota>,
    remote: Option<&Quota>,
    seen: Option<&Quota>,
) -> QuotaAction {
    if local != seen {
        return match local {
            Some(q) if remote.is_none_or(|r| r.observed_at <= q.observed_at) => {
                QuotaAction::Publish(q.clone())
            }
            _ => QuotaAction::Keep,
        };
    }
    match remote {
        Some(r) if local.is_none_or(|l| l.observed_at < r.observed_at) => {
            QuotaAction::Adopt(r.clone())
        }
        _ => QuotaAction::Keep,
    }
}

impl Account {
    /// This replica's view for the merge; `login`: digest of the login held.
    fn replica_view(&self, login: Option<String>, now: Instant, now_ms: u64) -> Local {
        let h = self.health();
        let reason = h.reason().unwrap_or_default().to_string();
        let verdict = match (Verdict::of(h.state()), h.until()) {
            (None, _) => None,
            (Some(Verdict::Cooling), until) => until
                .map(|u| u.saturating_duration_since(now))
                .filter(|left| !left.is_zero())
                .map(|left| {
                    let until_ms =
                        now_ms.saturating_add(u64::try_from(left.as_millis()).unwrap_or(u64::MAX));
                    let v = Published {
                        state: Verdict::Cooling,
                        until_ms: Some(until_ms),
                        usage_limited: h.usage_limited(),
                        reason,
                        login: login.clone(),
                    };
                    (v, Some(left))
                }),
            (Some(state), _) => Some((
                Published {
                    state,
                    until_ms: None,
                    usage_limited: false,
                    reason,
                    login: login.clone(),
                },
                None,
            )),
        };
        Local {
            generation: h.generation(),
            verdict,
            store_outage: h.store_outage(),
            login,
        }
    }

    /// Takes on what another replica published (not counted as our change).
    fn adopt(&self, action: &Action, now: Instant) {
        match action {
            Action::Adopt(a) => {
                let until = a.left.map(|left| now + left);
                self.health()
                    .adopt(a.state, until, &a.reason, a.usage_limited);
            }
            Action::AdoptReady => self.health().adopt_ready(),
            Action::Keep | Action::Publish { .. } | Action::Clear => {}
        }
    }
}

/// The health sync of one replica: what it remembers between rounds.
#[derive(Default)]
pub struct HealthSync {
    seen: HashMap<String, Seen>,
}

impl HealthSync {
    /// One round against the store: one read, the merge, one write.
    pub async fn round(&mut self, store: &Redis, accounts: &[Arc<Account>]) {
        let keys: Vec<[String; 2]> = accounts
            .iter()
            .map(|a| [store.key("health", &a.name), store.key("quota", &a.name)])
            .collect();
        let Ok(values) = store.get_many(keys.concat().as_slice()).await else {
            return;
        };
        let (now, now_ms) = (Instant::now(), clock::unix_millis_now());
        let mut writes = Writes::default();
        for (i, (a, [health_key, quota_key])) in accounts.iter().zip(keys).enumerate() {
            let seen = self.seen.entry(a.name.clone()).or_default();
            let remote: Option<Published> = parsed(&values, 2 * i);
            let login = a
                .credentials()
                .map(|c| store.sealing_key().digest(c.refresh_token.expose()));
            let local = a.replica_view(login, now, now_ms);
            match merge(&local, remote.as_ref(), seen, now_ms) {
                Action::Publish { verdict, ttl } => {
                    writes.set(health_key, &json(&verdict), ttl);
                }
                Action::Clear => writes.delete(health_key),
                other => a.adopt(&other, now),
            }
            // Bounded like a reading from upstream: any writer can set it.
            let remote: Option<Quota> =
                parsed::<Quota>(&values, 2 * i + 1).map(|q| q.bounded(clock::unix_now()));
            match merge_quota(a.quota().as_ref(), remote.as_ref(), seen.quota.as_ref()) {
                QuotaAction::Publish(q) => writes.set(quota_key, &json(&q), None),
                QuotaAction::Adopt(q) => a.set_quota(q),
                QuotaAction::Keep => {}
            }
            seen.quota = a.quota();
        }
        let _ = store.write(writes).await;
    }
}

/// The value at `i`, if there is one and it parses (a value another version
/// wrote that this one cannot read counts as none).
fn parsed<T: serde::de::DeserializeOwned>(values: &[Option<String>], i: usize) -> Option<T> {
    serde_json::from_str(values.get(i)?.as_deref()?).ok()
}

fn json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests;
