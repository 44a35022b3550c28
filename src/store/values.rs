//! Plain values, many at a time: one pipelined round trip to read a list of
//! keys, one to apply a batch of writes. What the values mean is their
//! owner's business (`pool::replicas` keeps account health and quota here).

use std::time::Duration;

use super::{Error, Redis};

/// Writes applied together (`Redis::write`).
#[derive(Default)]
pub struct Writes {
    pipe: redis::Pipeline,
    len: usize,
}

impl Writes {
    /// `SET kind:name value`, expiring after `ttl` when given.
    pub fn set(&mut self, key: String, value: &str, ttl: Option<Duration>) {
        self.pipe.cmd("SET").arg(key).arg(value);
        if let Some(ttl) = ttl {
            self.pipe.arg("PX").arg(millis(ttl));
        }
        self.len += 1;
    }

    /// `DEL kind:name`.
    pub fn delete(&mut self, key: String) {
        self.pipe.cmd("DEL").arg(key);
        self.len += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A ttl in whole milliseconds, at least one (Redis refuses `PX 0`).
pub(super) fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl Redis {
    /// The text values of `keys` (made with `Redis::key`), in order; `None`
    /// for a key that holds nothing.
    pub async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, Error> {
        let mut read = redis::pipe();
        for k in keys {
            read.cmd("GET").arg(k);
        }
        self.call(&read).await
    }

    /// Applies `writes` in one round trip (nothing when there are none).
    pub async fn write(&self, writes: Writes) -> Result<(), Error> {
        if writes.is_empty() {
            return Ok(());
        }
        self.call::<redis::Value>(&writes.pipe).await.map(|_| ())
    }
}
