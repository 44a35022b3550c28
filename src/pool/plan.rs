//! One snapshot's view of the accounts: `Pool::plan_for` turns a strategy
//! (and a conversation's account, when it has one) into the candidate list
//! one request walks; `why_exhausted` says why none can serve.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use tokio::time::Instant;

use super::{order, priority_index, Account, Availability};
use crate::config::Strategy;

/// Why no account could take a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Exhausted {
    /// Every candidate's subscription window is spent; the earliest reset.
    UsageLimited { earliest_reset: SystemTime },
    /// Each account and why it cannot serve.
    Unavailable { reasons: Vec<(String, String)> },
}

/// One snapshot's view of the accounts.
pub struct Pool {
    accounts: Vec<Arc<Account>>,
    by_priority: Vec<usize>,
    counter: AtomicUsize,
    max_attempts: Option<usize>,
}

impl Pool {
    pub fn new(accounts: Vec<Arc<Account>>, max_attempts: Option<usize>) -> Pool {
        let prios: Vec<i64> = accounts.iter().map(|a| a.settings().priority).collect();
        Pool {
            by_priority: priority_index(&prios),
            accounts,
            counter: AtomicUsize::new(0),
            max_attempts,
        }
    }

    pub fn accounts(&self) -> &[Arc<Account>] {
        &self.accounts
    }

    /// The candidates for one request, first choice first, at most `max_attempts`.
    pub fn plan(
        &self,
        strategy: Strategy,
        scope: Option<&[String]>,
    ) -> Result<Vec<Arc<Account>>, Exhausted> {
        self.plan_for(strategy, scope, None).map(|(list, _)| list)
    }

    /// The account a request would go to first, for a side request that
    /// only shows it (the usage window, a model list): the rotation does not
    /// move, so under `round_robin` it is the first usable one in file order.
    /// `Ok(None)`: nothing in scope.
    pub fn peek(
        &self,
        strategy: Strategy,
        scope: Option<&[String]>,
    ) -> Result<Option<Arc<Account>>, Exhausted> {
        let strategy = match strategy {
            Strategy::RoundRobin => Strategy::PrimaryFirst,
            s => s,
        };
        self.plan(strategy, scope)
            .map(|list| list.into_iter().next())
    }

    /// Of the usage-limited accounts in scope, the one whose cooldown ends first.
    pub fn first_to_reset(&self, scope: Option<&[String]>) -> Option<Arc<Account>> {
        let now = Instant::now();
        self.accounts
            .iter()
            .filter(|a| scope.is_none_or(|s| s.iter().any(|n| n == &a.name)))
            .filter_map(|a| match a.availability(now) {
                Availability::Cooling {
                    until,
                    usage_limited: true,
                    ..
                } => Some((until, a)),
                _ => None,
            })
            .min_by_key(|(until, _)| *until)
            .map(|(_, a)| Arc::clone(a))
    }

    /// `plan`, with `prefer` (a conversation's account) first when it is a
    /// candidate; says whether it was. A conversation kept on its account
    /// does not turn the round-robin wheel, so new conversations still spread
    /// evenly.
    pub fn plan_for(
        &self,
        strategy: Strategy,
        scope: Option<&[String]>,
        prefer: Option<&str>,
    ) -> Result<(Vec<Arc<Account>>, bool), Exhausted> {
        let now = Instant::now();
        let in_scope = |a: &Account| scope.is_none_or(|s| s.iter().any(|n| n == &a.name));
        let usable =
            |a: &Account| in_scope(a) && a.credentials().is_some() && a.availability(now).usable();
        let round_robin = strategy == Strategy::RoundRobin;
        let mut list = if round_robin && prefer.is_some() {
            order(
                Strategy::PrimaryFirst,
                &self.accounts,
                &self.by_priority,
                usable,
                &self.counter,
            )
        } else {
            order(
                strategy,
                &self.accounts,
                &self.by_priority,
                usable,
                &self.counter,
            )
        };
        if list.is_empty() {
            return Err(self.why_exhausted(scope));
        }
        let at = prefer.and_then(|p| list.iter().position(|a| a.name == p));
        match at {
            Some(i) => list[..=i].rotate_right(1),
            None if round_robin && prefer.is_some() => {
                let start = self.counter.fetch_add(1, Ordering::Relaxed) % list.len();
                list.rotate_left(start);
            }
            None => {}
        }
        if let Some(max) = self.max_attempts {
            list.truncate(max.max(1));
        }
        Ok((list, at.is_some()))
    }

    /// Why every in-scope account is out: usage-limited when all are.
    pub fn why_exhausted(&self, scope: Option<&[String]>) -> Exhausted {
        let now = Instant::now();
        let in_scope = |a: &Account| scope.is_none_or(|s| s.iter().any(|n| n == &a.name));
        let mut reasons = Vec::new();
        let mut earliest: Option<SystemTime> = None;
        let mut all_limited = true;
        for a in self.accounts.iter().filter(|a| in_scope(a)) {
            let avail = a.availability(now);
            let reason = match &avail {
                Availability::Cooling {
                    until,
                    usage_limited,
                    reason,
                } => {
                    let wall = SystemTime::now() + until.saturating_duration_since(now);
                    if *usage_limited {
                        earliest = Some(earliest.map_or(wall, |e| e.min(wall)));
                    } else {
                        all_limited = false;
                    }
                    format!(
                        "cooling until {} ({reason})",
                        humantime::format_rfc3339_seconds(wall)
                    )
                }
                Availability::Probing => {
                    all_limited = false;
                    "on probation (another request is testing it)".into()
                }
                Availability::Disabled { reason } => {
                    all_limited = false;
                    format!("disabled ({reason})")
                }
                Availability::NeedsRelogin { reason } => {
                    all_limited = false;
                    format!("needs re-login ({reason})")
                }
                Availability::Ready | Availability::Probation => {
                    all_limited = false;
                    if a.credentials().is_none() {
                        "no usable login".into()
                    } else {
                        "busy".into()
                    }
                }
            };
            reasons.push((a.name.clone(), reason));
        }
        match earliest {
            Some(earliest_reset) if all_limited => Exhausted::UsageLimited { earliest_reset },
            _ => Exhausted::Unavailable { reasons },
        }
    }
}
