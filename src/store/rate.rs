//! Client key rates across replicas: `requests_per_minute` as GCRA in one
//! Lua script (atomic, one round trip, Redis' own clock for every replica).
//! `rate:<key>` holds the theoretical arrival time in milliseconds and
//! expires once it has passed. A burst of up to `rpm` requests is allowed,
//! as the in-process limiter (governor's `Quota::per_minute`) allows.
//!
//! Token budgets: `budget:<key>:<hour|day>:<window>` count the tokens all
//! replicas spent in a wall-clock hour or day; each replica adds what it
//! spent every 250 ms (`sync_budgets`) and reads the totals back in the same
//! round trip, so the check before a request (`keys::ClientKey`) stays local.

use std::sync::Arc;
use std::time::Duration;

use crate::keys::ClientKey;

use super::{Error, Redis};

impl Redis {
    /// Takes one request of `rpm` for the client key `name`: `None` when
    /// allowed, `Some(wait)` when the rate is spent for that long.
    pub async fn take_rate(&self, name: &str, rpm: u32) -> Result<Option<Duration>, Error> {
        let interval = 60_000.0 / f64::from(rpm.max(1));
        let burst = interval * f64::from(rpm.max(1));
        let mut inv = self.scripts.gcra.prepare_invoke();
        inv.key(self.key("rate", name)).arg(interval).arg(burst);
        let wait: i64 = self.call(&inv).await?;
        Ok((wait > 0).then(|| Duration::from_millis(wait as u64)))
    }
}

impl Redis {
    /// Adds what each key with a budget spent here, and reads the totals.
    pub async fn sync_budgets(&self, keys: &[Arc<ClientKey>]) {
        let now = crate::clock::unix_now().max(0) as u64;
        let (hour, day) = (now / 3600, now / 86_400);
        let budgeted: Vec<&Arc<ClientKey>> = keys
            .iter()
            .filter(|k| k.config.tokens_per_hour.is_some() || k.config.tokens_per_day.is_some())
            .collect();
        if budgeted.is_empty() {
            return;
        }
        let mut taken = Vec::with_capacity(budgeted.len());
        let mut pipe = redis::pipe();
        for k in &budgeted {
            let unsent = {
                let mut s = k.state.shared.lock().unwrap_or_else(|p| p.into_inner());
                std::mem::take(&mut s.unsent)
            };
            taken.push(unsent);
            let name = k.name();
            let h = self.key("budget", &format!("{name}:hour:{hour}"));
            let d = self.key("budget", &format!("{name}:day:{day}"));
            pipe.cmd("INCRBY").arg(&h).arg(unsent);
            pipe.cmd("EXPIRE").arg(&h).arg(2 * 3600).ignore();
            pipe.cmd("INCRBY").arg(&d).arg(unsent);
            pipe.cmd("EXPIRE").arg(&d).arg(2 * 86_400).ignore();
        }
        let totals: Result<Vec<u64>, _> = self.call(&pipe).await;
        for (i, k) in budgeted.iter().enumerate() {
            let mut s = k.state.shared.lock().unwrap_or_else(|p| p.into_inner());
            match &totals {
                Ok(t) => {
                    s.hour = t.get(2 * i).map(|v| (hour, *v));
                    s.day = t.get(2 * i + 1).map(|v| (day, *v));
                }
                // Not counted there: spend it again next round.
                Err(_) => s.unsent = s.unsent.saturating_add(taken[i]),
            }
        }
    }
}
