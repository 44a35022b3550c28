//! Logins in the store, and the refresh lock across replicas.
//!
//! `tokens:<account>` holds one sealed `Entry`: the login (as an `auth.json`
//! would hold it) and digests of the refresh tokens the store has held, so a
//! replica can tell its auth file's older login (already spent by a refresh
//! elsewhere) from a new login written there (`Entry::is_new_login`).
//! `lock:<account>` is the refresh lock: `SET NX PX` with a random owner
//! token; only its owner deletes it (a Lua compare-and-delete), and it
//! expires by itself if its owner dies.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Error, Redis};
use crate::auth::file::{AuthFile, Credentials};

/// Digests of past refresh tokens kept per login: more than the refreshes
/// that can happen while a replica's file is stale.
const HISTORY: usize = 64;

/// One account's login as the store keeps it (sealed).
#[derive(Clone, Serialize, Deserialize)]
pub struct Entry {
    pub file: AuthFile,
    /// Keyed digests (`seal::Key::digest`) of refresh tokens held before, newest first.
    #[serde(default)]
    pub seen: Vec<String>,
}

impl Entry {
    /// A first entry, from an auth file.
    pub fn seed(shared: &Redis, file: AuthFile) -> Entry {
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
    pub fn remember(&mut self, shared: &Redis) {
        let Some(rt) = self.refresh_token() else {
            return;
        };
        let d = shared.sealing_key().digest(rt);
        self.seen.retain(|s| *s != d);
        self.seen.insert(0, d);
        self.seen.truncate(HISTORY);
    }

    /// Whether `refresh_token` (an auth file's) is a login this entry never
    /// held: someone logged in again, and that login replaces the store's.
    pub fn is_new_login(&self, shared: &Redis, refresh_token: &str) -> bool {
        let d = shared.sealing_key().digest(refresh_token);
        !self.seen.contains(&d) && self.refresh_token() != Some(refresh_token)
    }
}

impl Redis {
    /// The account's login in the store, if any.
    pub async fn load_login(&self, account: &str) -> Result<Option<Entry>, Error> {
        let key = self.key("tokens", account);
        let raw: Option<Vec<u8>> = self.call(redis::cmd("GET").arg(&key)).await?;
        let Some(raw) = raw else { return Ok(None) };
        let plain = self
            .sealing_key()
            .open(&key, &raw)
            .ok_or(Error::Undecryptable)?;
        serde_json::from_slice(&plain)
            .map(Some)
            .map_err(|_| Error::Undecryptable)
    }

    /// Writes the account's login (sealed).
    pub async fn save_login(&self, account: &str, entry: &Entry) -> Result<(), Error> {
        let key = self.key("tokens", account);
        let plain = serde_json::to_vec(entry).map_err(|_| Error::Unavailable)?;
        let sealed = self
            .sealing_key()
            .seal(&key, &plain)
            .ok_or(Error::Unavailable)?;
        self.call::<()>(redis::cmd("SET").arg(&key).arg(sealed))
            .await
    }

    /// Takes the refresh lock of `account` for `ttl`; `Ok(None)`: another
    /// replica holds it.
    pub async fn try_lock(&self, account: &str, ttl: Duration) -> Result<Option<LockToken>, Error> {
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
    pub async fn locked(&self, account: &str) -> Result<bool, Error> {
        let n: i64 = self
            .call(redis::cmd("EXISTS").arg(self.key("lock", account)))
            .await?;
        Ok(n == 1)
    }

    /// Releases the lock if we still own it.
    pub async fn unlock(&self, account: &str, token: LockToken) -> Result<(), Error> {
        let mut inv = self.scripts.unlock.prepare_invoke();
        inv.key(self.key("lock", account)).arg(&token.owner);
        self.call::<i64>(&inv).await.map(|_| ())
    }
}

/// Held refresh lock (its owner token).
pub struct LockToken {
    owner: String,
}

pub(super) const UNLOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";
