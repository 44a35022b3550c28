//! Logins in the store, and the refresh lock across replicas.
//!
//! `tokens:<account>` holds one sealed `Entry`: the login (as an `auth.json`
//! would hold it) and digests of the refresh tokens the store has held.
//! Which of two logins is newer is decided by when they were issued
//! (`auth::mirror::age`); the digests only break ties.
//! `lock:<account>` is the refresh lock: `SET NX PX` with a random owner
//! token; only its owner deletes it (a Lua compare-and-delete), and it
//! expires by itself if its owner dies.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Shared, StoreError};
use crate::auth::mirror::{self, Age};
use crate::auth::store::{AuthFile, Credentials};

/// Digests of past refresh tokens kept per login (a tie-breaker only).
const HISTORY: usize = 64;

/// One account's login as the store keeps it (sealed).
#[derive(Clone, Serialize, Deserialize)]
pub struct Entry {
    pub file: AuthFile,
    /// Keyed digests (`StoreKey::digest`) of refresh tokens held before, newest first.
    #[serde(default)]
    pub seen: Vec<String>,
}

impl Entry {
    /// A first entry, from an auth file.
    pub fn seed(shared: &Shared, file: AuthFile) -> Entry {
        let mut e = Entry {
            file,
            seen: Vec::new(),
        };
        e.remember(shared);
        e
    }

    /// The credentials this login gives.
    pub fn credentials(&self) -> Option<Credentials> {
        let t = self.file.tokens.as_ref()?;
        Some(Credentials::from_tokens(
            t,
            self.file.last_refresh.as_deref(),
        ))
    }

    fn refresh_token(&self) -> Option<&str> {
        self.file
            .tokens
            .as_ref()
            .map(|t| t.refresh_token.expose().as_str())
    }

    /// Records the current refresh token in the history.
    pub fn remember(&mut self, shared: &Shared) {
        let Some(rt) = self.refresh_token() else {
            return;
        };
        let d = shared.cipher().digest(rt);
        self.seen.retain(|s| *s != d);
        self.seen.insert(0, d);
        self.seen.truncate(HISTORY);
    }

    /// How `other` (a file's or a replica's login) compares with this one.
    pub fn age_of(&self, shared: &Shared, other: &Credentials) -> Age {
        let Some(mine) = self.credentials() else {
            return Age::Newer;
        };
        mirror::age(other, &mine, |rt| {
            self.seen.contains(&shared.cipher().digest(rt))
        })
    }

    /// Whether `other` is newer than this login (someone logged in again,
    /// or this replica holds a rotation the store missed).
    pub fn is_new_login(&self, shared: &Shared, other: &Credentials) -> bool {
        self.age_of(shared, other) == Age::Newer
    }
}

impl Shared {
    /// The account's login in the store, if any.
    pub async fn load_login(&self, account: &str) -> Result<Option<Entry>, StoreError> {
        let key = self.key("tokens", account);
        let raw: Option<Vec<u8>> = self.call(redis::cmd("GET").arg(&key)).await?;
        let Some(raw) = raw else { return Ok(None) };
        let plain = self
            .cipher()
            .open(&key, &raw)
            .ok_or(StoreError::Undecryptable)?;
        serde_json::from_slice(&plain)
            .map(Some)
            .map_err(|_| StoreError::Undecryptable)
    }

    /// Writes the account's login (sealed).
    pub async fn save_login(&self, account: &str, entry: &Entry) -> Result<(), StoreError> {
        let key = self.key("tokens", account);
        let plain = serde_json::to_vec(entry).map_err(|_| StoreError::Unavailable)?;
        let sealed = self
            .cipher()
            .seal(&key, &plain)
            .ok_or(StoreError::Unavailable)?;
        self.call::<()>(redis::cmd("SET").arg(&key).arg(sealed))
            .await
    }

    /// Takes the refresh lock of `account` for `ttl`; `Ok(None)`: another
    /// replica holds it.
    pub async fn try_lock(
        &self,
        account: &str,
        ttl: Duration,
    ) -> Result<Option<LockToken>, StoreError> {
        let owner = uuid::Uuid::new_v4().to_string();
        let got: Option<String> = self
            .call(
                redis::cmd("SET")
                    .arg(self.key("lock", account))
                    .arg(&owner)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl.as_millis() as u64),
            )
            .await?;
        Ok(got.map(|_| LockToken { owner }))
    }

    /// Whether someone holds the refresh lock of `account`.
    pub async fn locked(&self, account: &str) -> Result<bool, StoreError> {
        let n: i64 = self
            .call(redis::cmd("EXISTS").arg(self.key("lock", account)))
            .await?;
        Ok(n == 1)
    }

    /// Writes the account's login (sealed) only while `lock` is ours, and
    /// sets the lock's expiry to `ttl` first. `Ok(false)`: the lock is gone.
    pub async fn save_login_locked(
        &self,
        account: &str,
        entry: &Entry,
        lock: &LockToken,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let key = self.key("tokens", account);
        let plain = serde_json::to_vec(entry).map_err(|_| StoreError::Unavailable)?;
        let sealed = self
            .cipher()
            .seal(&key, &plain)
            .ok_or(StoreError::Unavailable)?;
        let mut inv = self.scripts.fenced_set.prepare_invoke();
        inv.key(self.key("lock", account))
            .key(key)
            .arg(&lock.owner)
            .arg(ttl.as_millis() as u64)
            .arg(sealed);
        self.call::<i64>(&inv).await.map(|n| n == 1)
    }

    /// Sets the lock's expiry to `ttl` if it is still ours.
    pub async fn extend_lock(
        &self,
        account: &str,
        lock: &LockToken,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut inv = self.scripts.extend.prepare_invoke();
        inv.key(self.key("lock", account))
            .arg(&lock.owner)
            .arg(ttl.as_millis() as u64);
        self.call::<i64>(&inv).await.map(|n| n == 1)
    }

    /// Releases the lock if we still own it.
    pub async fn unlock(&self, account: &str, token: LockToken) -> Result<(), StoreError> {
        let mut inv = self.scripts.unlock.prepare_invoke();
        inv.key(self.key("lock", account)).arg(&token.owner);
        self.call::<i64>(&inv).await.map(|_| ())
    }
}

/// Held refresh lock (its owner token).
pub struct LockToken {
    owner: String,
}

/// KEYS: lock, tokens; ARGV: owner, ttl ms, sealed login. The expiry is set
/// before the write, so a refused write still shortens the lock.
pub(super) const FENCED_SET: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[3])
return 1
";

pub(super) const EXTEND: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

pub(super) const UNLOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";
