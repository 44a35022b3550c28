//! Client key rates across replicas: `requests_per_minute` as GCRA in one
//! Lua script (atomic, one round trip, Redis' own clock for every replica).
//! `rate:<key>` holds the theoretical arrival time in milliseconds and
//! expires once it has passed. A burst of up to `rpm` requests is allowed,
//! as the in-process limiter (governor's `Quota::per_minute`) allows.

use std::time::Duration;

use super::{Shared, StoreError};

pub(super) const GCRA: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst
if allow_at > now then
  return allow_at - now
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.max(1, math.ceil(new_tat - now)))
return 0
";

impl Shared {
    /// Takes one request of `rpm` for the client key `name`: `None` when
    /// allowed, `Some(wait)` when the rate is spent for that long.
    pub async fn take_rate(&self, name: &str, rpm: u32) -> Result<Option<Duration>, StoreError> {
        let interval = 60_000.0 / f64::from(rpm.max(1));
        let burst = interval * f64::from(rpm.max(1));
        let mut inv = self.scripts.gcra.prepare_invoke();
        inv.key(self.key("rate", name)).arg(interval).arg(burst);
        let wait: i64 = self.call(&inv).await?;
        Ok((wait > 0).then(|| Duration::from_millis(wait as u64)))
    }
}
