//! The lock one replica holds while it refreshes an account's login:
//! `lock:<account>`, `SET NX PX` with a random owner token. Only its owner
//! deletes it (a compare-and-delete in Lua, `scripts.rs`), and it expires by
//! itself if its owner dies.

use std::time::Duration;

use super::values::millis;
use super::{Error, Redis};

/// A held lock (its owner token).
pub struct LockToken {
    owner: String,
}

impl Redis {
    /// Takes the lock of `name` for `ttl`; `Ok(None)`: another holds it.
    pub async fn try_lock(&self, name: &str, ttl: Duration) -> Result<Option<LockToken>, Error> {
        let owner = uuid::Uuid::new_v4().to_string();
        let got: Option<String> = self
            .call(
                redis::cmd("SET")
                    .arg(self.key("lock", name))
                    .arg(&owner)
                    .arg("NX")
                    .arg("PX")
                    .arg(millis(ttl)),
            )
            .await?;
        Ok(got.map(|_| LockToken { owner }))
    }

    /// Sets the lock's expiry to `ttl` if it is still ours.
    pub async fn extend_lock(
        &self,
        name: &str,
        lock: &LockToken,
        ttl: Duration,
    ) -> Result<bool, Error> {
        let mut inv = self.scripts.extend.prepare_invoke();
        inv.key(self.key("lock", name))
            .arg(&lock.owner)
            .arg(millis(ttl));
        self.call::<i64>(&inv).await.map(|n| n == 1)
    }

    /// Writes `plain` as the value `kind:name`, sealed, only while the lock
    /// of `name` is ours, setting its expiry to `ttl` first. `Ok(false)`:
    /// the lock is gone (expired, and maybe taken by another replica).
    pub async fn save_sealed_locked(
        &self,
        kind: &str,
        name: &str,
        plain: &[u8],
        lock: &LockToken,
        ttl: Duration,
    ) -> Result<bool, Error> {
        let key = self.key(kind, name);
        let sealed = self
            .sealing_key()
            .seal(&key, plain)
            .ok_or(Error::Unavailable)?;
        let mut inv = self.scripts.fenced_set.prepare_invoke();
        inv.key(self.key("lock", name))
            .key(key)
            .arg(&lock.owner)
            .arg(millis(ttl))
            .arg(sealed);
        self.call::<i64>(&inv).await.map(|n| n == 1)
    }

    /// Releases the lock if we still own it.
    pub async fn unlock(&self, name: &str, token: LockToken) -> Result<(), Error> {
        let mut inv = self.scripts.unlock.prepare_invoke();
        inv.key(self.key("lock", name)).arg(&token.owner);
        self.call::<i64>(&inv).await.map(|_| ())
    }
}
