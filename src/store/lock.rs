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

    /// Releases the lock if we still own it.
    pub async fn unlock(&self, name: &str, token: LockToken) -> Result<(), Error> {
        let mut inv = self.scripts.unlock.prepare_invoke();
        inv.key(self.key("lock", name)).arg(&token.owner);
        self.call::<i64>(&inv).await.map(|_| ())
    }
}
