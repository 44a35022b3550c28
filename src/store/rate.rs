//! Client key rates across replicas: `requests_per_minute` as GCRA in one
//! Lua script (atomic, one round trip, Redis' own clock for every replica).
//! `rate:<key>` holds the theoretical arrival time in milliseconds and
//! expires once it has passed. A burst of up to `rpm` requests is allowed,
//! as the in-process limiter (governor's `Quota::per_minute`) allows.
//!
//! Token budgets across replicas are `keys`' business (`keys.rs`,
//! `Redis::sync_budgets`): they ride on this store's `call` and `key`.

use std::time::Duration;

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
