//! Account health and quota windows shared between replicas.
//!
//! `health:<account>` holds the last verdict any replica made about the
//! account (cooling until a wall-clock time, disabled, needs a new login,
//! with its reason); a cooldown's key expires when the cooldown does.
//! `quota:<account>` holds the latest quota reading. Each replica's
//! `sync` (every 250 ms, `background::store_loop`) makes one pipelined round
//! trip: it publishes what changed here since the last sync
//! (`Health::generation`) and adopts what another replica published, so a
//! replica skips an account another saw limited without trying it.
//! A needs-login verdict names the login (a keyed digest of its refresh
//! token): it is not adopted by a replica that already holds a newer login.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::Shared;
use crate::pool::{Account, Quota, State};

/// One replica's verdict about an account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub state: String,
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

/// What the sync remembers per account between rounds.
#[derive(Default)]
pub struct Seen {
    generation: u64,
    /// The account's state came from another replica.
    adopted: bool,
    quota: Option<Quota>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// This replica's verdict about `account`, if it is not ready.
fn local_verdict(shared: &Shared, account: &Account) -> Option<(Verdict, Option<Duration>)> {
    let login = account
        .credentials()
        .map(|c| shared.cipher().digest(c.refresh_token.expose()));
    let h = account.health();
    let now = Instant::now();
    let reason = h.reason().unwrap_or_default().to_string();
    match h.state() {
        State::Ready => None,
        State::Cooling => {
            let left = h.until()?.saturating_duration_since(now);
            if left.is_zero() {
                return None;
            }
            Some((
                Verdict {
                    state: "cooling".into(),
                    until_ms: Some(now_ms() + left.as_millis() as u64),
                    usage_limited: h.usage_limited(),
                    reason,
                    login,
                },
                Some(left),
            ))
        }
        s @ (State::Disabled | State::NeedsRelogin) => Some((
            Verdict {
                state: s.as_str().into(),
                until_ms: None,
                usage_limited: false,
                reason,
                login,
            },
            None,
        )),
    }
}

/// Takes on `v` (another replica's verdict) locally.
fn adopt(shared: &Shared, account: &Account, v: &Verdict) -> bool {
    let ours = account
        .credentials()
        .map(|c| shared.cipher().digest(c.refresh_token.expose()));
    let (state, until) = match v.state.as_str() {
        "cooling" => {
            // Bounded as a local cooldown is: a value past that (a bug, or
            // a writer on the path) would cool the account for centuries.
            let longest = crate::pool::health::LONGEST_COOLDOWN.as_millis() as u64;
            let left = v
                .until_ms
                .unwrap_or(0)
                .saturating_sub(now_ms())
                .min(longest);
            if left == 0 {
                return false;
            }
            (
                State::Cooling,
                Some(Instant::now() + Duration::from_millis(left)),
            )
        }
        "disabled" => (State::Disabled, None),
        // A verdict about a login this replica no longer holds says nothing.
        "needs_relogin" if v.login.is_some() && v.login == ours => (State::NeedsRelogin, None),
        _ => return false,
    };
    account
        .health()
        .adopt(state, until, &v.reason, v.usage_limited);
    true
}

impl Shared {
    /// One round: publish this replica's changes, adopt the others'.
    pub async fn sync_health(&self, accounts: &[Arc<Account>], seen: &mut HashMap<String, Seen>) {
        let mut read = redis::pipe();
        for a in accounts {
            read.cmd("GET").arg(self.key("health", &a.name));
            read.cmd("GET").arg(self.key("quota", &a.name));
        }
        let Ok(values) = self.call::<Vec<Option<String>>>(&read).await else {
            return;
        };
        let mut write = redis::pipe();
        let mut writes = 0;
        for (i, a) in accounts.iter().enumerate() {
            let entry = seen.entry(a.name.clone()).or_default();
            let remote: Option<Verdict> = values
                .get(2 * i)
                .cloned()
                .flatten()
                .and_then(|t| serde_json::from_str(&t).ok());
            let generation = a.health().generation();
            let health_key = self.key("health", &a.name);
            if generation != entry.generation {
                // Our own news wins: publish it. Not a cooldown shorter
                // than one already there (another replica's usage limit
                // outlasts our backoff), nor one for want of the store (this
                // replica's trouble, not the account's).
                entry.generation = generation;
                entry.adopted = false;
                match local_verdict(self, a) {
                    Some((v, _)) if v.reason == crate::auth::refresh::UNAVAILABLE => {}
                    Some((v, _))
                        if v.state == "cooling"
                            && remote.as_ref().is_some_and(|r| {
                                r.state == "cooling" && r.until_ms > v.until_ms
                            }) =>
                    {
                        if let Some(r) = &remote {
                            entry.adopted = adopt(self, a, r);
                        }
                    }
                    Some((v, ttl)) => {
                        let text = serde_json::to_string(&v).unwrap_or_default();
                        write.cmd("SET").arg(&health_key).arg(text);
                        if let Some(ttl) = ttl {
                            write.arg("PX").arg(ttl.as_millis().max(1) as u64);
                        }
                        writes += 1;
                    }
                    None => {
                        write.cmd("DEL").arg(&health_key);
                        writes += 1;
                    }
                }
            } else {
                match &remote {
                    Some(v)
                        if local_verdict(self, a).map(|l| l.0.state) != Some(v.state.clone())
                            || entry.adopted =>
                    {
                        entry.adopted |= adopt(self, a, v);
                    }
                    Some(_) => {}
                    None if entry.adopted => {
                        a.health().adopt_ready();
                        entry.adopted = false;
                    }
                    None => {}
                }
            }
            // Quota: ours when it changed here, else the store's.
            let local_q = a.quota();
            let remote_q: Option<Quota> = values
                .get(2 * i + 1)
                .cloned()
                .flatten()
                .and_then(|t| serde_json::from_str::<Quota>(&t).ok())
                .map(|q| q.bounded(crate::clock::unix_now()));
            if local_q != entry.quota {
                if let Some(q) = &local_q {
                    let newer = remote_q
                        .as_ref()
                        .is_none_or(|r| r.observed_at <= q.observed_at);
                    if newer {
                        let text = serde_json::to_string(q).unwrap_or_default();
                        write.cmd("SET").arg(self.key("quota", &a.name)).arg(text);
                        writes += 1;
                    }
                }
            } else if let Some(r) = remote_q {
                if local_q
                    .as_ref()
                    .is_none_or(|l| l.observed_at < r.observed_at)
                {
                    a.set_quota(r);
                }
            }
            entry.quota = a.quota();
        }
        if writes > 0 {
            let _ = self.call::<redis::Value>(&write).await;
        }
    }
}
