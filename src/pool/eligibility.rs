//! Which accounts may serve a model: the catalog's `available_in_plans`
//! against the account's plan, and the (account, model) pairs upstream
//! refused lately — a plan without the model, an organization that may not
//! use a field (`upstream::Failure::NotEntitled`). Such a refusal sets the
//! pair aside for `SET_ASIDE`, never the account: its other models still serve.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::Account;
use crate::catalog::Catalog;
use crate::sync::lock;

/// How long a refused (account, model) pair is not tried again. Plans
/// change rarely; an hour lets an upgrade show without a restart.
pub const SET_ASIDE: Duration = Duration::from_secs(3600);

/// At most this many pairs per account are remembered (clients choose model
/// names; the oldest is forgotten first).
const MAX_PAIRS: usize = 64;

/// The models upstream refused one account, and until when.
#[derive(Debug, Default)]
pub struct SetAside(Mutex<HashMap<String, Instant>>);

impl SetAside {
    pub fn insert(&self, model: &str, until: Instant) {
        let mut map = lock(&self.0);
        if map.len() >= MAX_PAIRS && !map.contains_key(model) {
            let oldest = map.iter().min_by_key(|(_, t)| **t).map(|(m, _)| m.clone());
            if let Some(m) = oldest {
                map.remove(&m);
            }
        }
        map.insert(model.to_string(), until);
    }

    /// Until when `model` is set aside, if it is at `now`.
    pub fn until(&self, model: &str, now: Instant) -> Option<Instant> {
        let mut map = lock(&self.0);
        match map.get(model) {
            Some(t) if *t > now => Some(*t),
            Some(_) => {
                map.remove(model);
                None
            }
            None => None,
        }
    }
}

/// Why an account may not serve a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ineligible {
    /// The catalog does not list the account's plan for the model.
    Plan { plan: String },
    /// Upstream refused this pair lately (its words).
    Refused,
}

impl std::fmt::Display for Ineligible {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ineligible::Plan { plan } => write!(f, "its plan ({plan}) does not include the model"),
            Ineligible::Refused => f.write_str("upstream refused the model to this account lately"),
        }
    }
}

/// Whether `account` may be sent `model` now.
pub fn check(
    account: &Account,
    model: &str,
    catalog: &Catalog,
    now: Instant,
) -> Result<(), Ineligible> {
    if account.models_set_aside.until(model, now).is_some() {
        return Err(Ineligible::Refused);
    }
    let Some(info) = catalog.info(model) else {
        return Ok(());
    };
    let plan = account.plan();
    if info.in_plan(plan.as_deref()) {
        return Ok(());
    }
    Err(Ineligible::Plan {
        plan: plan.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_is_set_aside_until_its_time_and_the_map_stays_bounded() {
        let s = SetAside::default();
        let now = Instant::now();
        s.insert("m", now + Duration::from_secs(10));
        assert!(s.until("m", now).is_some());
        assert!(s.until("other", now).is_none());
        assert!(s.until("m", now + Duration::from_secs(11)).is_none());
        for i in 0..200 {
            s.insert(&format!("m{i}"), now + Duration::from_secs(i));
        }
        assert_eq!(lock(&s.0).len(), MAX_PAIRS);
        assert!(s.until("m199", now).is_some(), "the newest are kept");
    }
}
