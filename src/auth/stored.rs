//! A login as the shared store keeps it (`[store]`): `tokens:<account>`
//! holds one sealed `Entry`, the login (as an `auth.json` would hold it) and
//! digests of the refresh tokens the store has held. Which of two logins is
//! newer is decided by when they were issued (`auth::mirror::age`); the
//! digests only break ties.
//!
//! The store moves the sealed bytes (`store::Redis::load_sealed`); what they
//! mean, and when one login replaces another, is decided here.

use serde::{Deserialize, Serialize};

use std::time::Duration;

use super::file::{AuthFile, Credentials};
use super::mirror::{self, Age};
use crate::store::{self, LockToken, Redis};

/// Digests of past refresh tokens kept per login (a tie-breaker only).
const HISTORY: usize = 64;

/// The kind of value a login is kept under (`tokens:<account>`).
const KIND: &str = "tokens";

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
    pub fn seed(store: &Redis, file: AuthFile) -> Entry {
        let mut e = Entry {
            file,
            seen: Vec::new(),
        };
        e.remember(store);
        e
    }

    /// A new login (`file`) replaces the one this entry holds; the history
    /// keeps the old one's refresh tokens.
    pub fn replace(&mut self, store: &Redis, file: AuthFile) {
        self.file = file;
        self.remember(store);
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
    pub fn remember(&mut self, store: &Redis) {
        let Some(rt) = self.refresh_token() else {
            return;
        };
        let d = store.sealing_key().digest(rt);
        self.seen.retain(|s| *s != d);
        self.seen.insert(0, d);
        self.seen.truncate(HISTORY);
    }

    /// How `other` (a file's or a replica's login) compares with this one.
    pub fn age_of(&self, store: &Redis, other: &Credentials) -> Age {
        let Some(mine) = self.credentials() else {
            return Age::Newer;
        };
        mirror::age(other, &mine, |rt| {
            self.seen.contains(&store.sealing_key().digest(rt))
        })
    }

    /// Whether `other` is newer than this login (someone logged in again,
    /// or this replica holds a rotation the store missed).
    pub fn is_new_login(&self, store: &Redis, other: &Credentials) -> bool {
        self.age_of(store, other) == Age::Newer
    }

    /// Writes the account's login (sealed) only while `lock` is ours, and
    /// sets the lock's expiry to `ttl` first. `Ok(false)`: the lock is gone.
    pub async fn save_locked(
        &self,
        store: &Redis,
        account: &str,
        lock: &LockToken,
        ttl: Duration,
    ) -> Result<bool, store::Error> {
        let plain = serde_json::to_vec(self).map_err(|_| store::Error::Unavailable)?;
        store
            .save_sealed_locked(KIND, account, &plain, lock, ttl)
            .await
    }

    /// The account's login in the store, if any.
    pub async fn load(store: &Redis, account: &str) -> Result<Option<Entry>, store::Error> {
        let Some(plain) = store.load_sealed(KIND, account).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&plain)
            .map(Some)
            .map_err(|_| store::Error::Undecryptable)
    }

    /// Writes the account's login (sealed).
    pub async fn save(&self, store: &Redis, account: &str) -> Result<(), store::Error> {
        let plain = serde_json::to_vec(self).map_err(|_| store::Error::Unavailable)?;
        store.save_sealed(KIND, account, &plain).await
    }
}
