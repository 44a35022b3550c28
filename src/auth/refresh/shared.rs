//! The refresh flight across replicas, when `[store]` is configured.
//!
//! The store's refresh lock replaces the auth file's lock: the holder
//! re-reads the store's login first (another replica may have refreshed it,
//! or the auth file may hold a new login, which then replaces the store's),
//! calls the issuer only if the store still holds the stale token, and writes
//! the rotated login to the store before it releases the lock. A replica that
//! finds the lock held never calls the issuer: it waits for the store's login
//! to change and uses it. A store that cannot be reached fails the flight
//! (`RefreshError::StoreUnavailable`) rather than refreshing without the lock. The auth
//! file gets the rotated login too, as a backup; the store is the truth.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{call_issuer, current, Job, RefreshError, Trace};
use crate::auth::file::{self, Credentials};
use crate::auth::lock::FileLock;
use crate::auth::persist;
use crate::auth::stored::Entry;
use crate::clock;
use crate::secret::Secret;
use crate::store::{self, Redis};

/// The lock's expiry: longer than the issuer may take (three tries of 30 s
/// at most, `call_issuer`), so it never expires under a live holder.
const LOCK_TTL: Duration = Duration::from_secs(100);

/// How often a replica waiting for another's refresh looks at the store.
const POLL: Duration = Duration::from_millis(100);

fn unavailable(e: store::Error) -> RefreshError {
    match e {
        store::Error::Unavailable => RefreshError::StoreUnavailable,
        store::Error::Undecryptable => RefreshError::Transient(e.to_string()),
    }
}

fn credentials(entry: &Entry) -> Option<Credentials> {
    entry.credentials()
}

impl Job {
    pub(super) async fn shared_flight(
        &self,
        store: &Redis,
        trace: &mut Trace,
    ) -> Result<Arc<Credentials>, RefreshError> {
        let (tokens, name) = (&self.login.tokens, &self.login.name);
        let deadline = Instant::now() + self.lock_wait;
        loop {
            if let Some(lock) = store.try_lock(name, LOCK_TTL).await.map_err(unavailable)? {
                let (result, release) = self.renew_shared(store, trace).await;
                if release {
                    // If this fails, the lock expires by itself.
                    let _ = store.unlock(name, lock).await;
                }
                return result;
            }
            // Another replica is refreshing: wait for its login, never call the issuer.
            if Instant::now() >= deadline {
                return Err(RefreshError::Transient(
                    "another replica's token refresh did not finish in time".into(),
                ));
            }
            tokio::time::sleep(POLL).await;
            let entry = Entry::load(store, name).await.map_err(unavailable)?;
            if let Some((entry, creds)) = entry.and_then(|e| credentials(&e).map(|c| (e, c))) {
                if Some(&creds.access_token) != self.stale.as_ref() {
                    tokens.set_credentials(creds);
                    trace.renewed = true;
                    backup_to_file(store, &entry, &self.login.path, name).await;
                    return current(tokens);
                }
            }
        }
    }

    /// Under the store's lock: re-read, refresh if still needed, store the
    /// result. The flag says whether the lock may be released (not when the
    /// rotated login could not be written: the lock then expires by itself,
    /// holding the other replicas off the spent refresh token meanwhile).
    async fn renew_shared(
        &self,
        store: &Redis,
        trace: &mut Trace,
    ) -> (Result<Arc<Credentials>, RefreshError>, bool) {
        let (tokens, path, name) = (&self.login.tokens, &self.login.path, &self.login.name);
        let stored = match Entry::load(store, name).await {
            Ok(e) => e,
            Err(e) => return (Err(unavailable(e)), true),
        };
        let disk = persist::load(path).await.ok();
        let (mut entry, seeded) = match (stored, disk) {
            (None, Some((file, _))) => {
                tracing::info!(account = %name, "the store holds no login for this account; seeding it from the auth file");
                (Entry::seed(store, file), true)
            }
            (None, None) => {
                return (
                    Err(RefreshError::NeedsRelogin {
                        reason: "no login in the store or in the auth file".into(),
                    }),
                    true,
                )
            }
            (Some(mut e), Some((file, on_disk)))
                if e.is_new_login(store, on_disk.refresh_token.expose()) =>
            {
                tracing::info!(account = %name, "the auth file holds a new login; it replaces the store's");
                e.replace(store, file);
                (e, true)
            }
            (Some(e), _) => (e, false),
        };
        let Some(creds) = credentials(&entry) else {
            return (
                Err(RefreshError::NeedsRelogin {
                    reason: "no tokens in the store's login".into(),
                }),
                true,
            );
        };
        if seeded {
            if let Err(e) = entry.save(store, name).await {
                return (Err(unavailable(e)), true);
            }
        }
        if Some(&creds.access_token) != self.stale.as_ref() {
            let changed = tokens
                .credentials()
                .is_none_or(|c| c.access_token != creds.access_token);
            tokens.set_credentials(creds);
            trace.renewed = true;
            if changed {
                backup_to_file(store, &entry, path, name).await;
            }
            return (current(tokens), true);
        }
        if tokens.is_dead(&creds.refresh_token) {
            let e = tokens.last_error().unwrap_or(RefreshError::NeedsRelogin {
                reason: "the issuer refused this login's refresh token".into(),
            });
            return (Err(e), true);
        }
        trace.called_issuer = true;
        let answer = match call_issuer(&self.http, &self.issuer, &creds.refresh_token).await {
            Ok(a) => a,
            Err(e) => {
                if matches!(e, RefreshError::NeedsRelogin { .. }) {
                    tokens.mark_dead(creds.refresh_token.clone());
                }
                return (Err(e), true);
            }
        };
        let Some(new) = entry.file.tokens.as_mut() else {
            return (Err(RefreshError::Transient("no tokens".into())), true);
        };
        if let Some(t) = answer.access_token {
            new.access_token = Secret::new(t);
        }
        if let Some(t) = answer.id_token {
            new.id_token = Secret::new(t);
        }
        if let Some(t) = answer.refresh_token {
            new.refresh_token = Secret::new(t);
        }
        entry.file.last_refresh = Some(clock::rfc3339_now());
        entry.remember(store);
        let Some(fresh) = credentials(&entry) else {
            return (Err(RefreshError::Transient("no tokens".into())), true);
        };
        let stored = self.store_rotated(store, &entry).await;
        tokens.set_credentials(fresh);
        trace.renewed = true;
        tracing::info!(account = %name, "access token refreshed (shared store)");
        backup_to_file(store, &entry, path, name).await;
        (current(tokens), stored)
    }

    /// Writes the rotated login to the store, trying a few times: until it is
    /// there, it is the only copy of the account's newest refresh token.
    async fn store_rotated(&self, store: &Redis, entry: &Entry) -> bool {
        for attempt in 0..5u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200) * attempt).await;
            }
            if entry.save(store, &self.login.name).await.is_ok() {
                return true;
            }
        }
        tracing::error!(account = %self.login.name,
            "the refreshed login could not be written to the store; this replica keeps it, and the refresh lock is left to expire");
        false
    }
}

/// Writes the store's login to this replica's auth file too, as a backup
/// (after a refresh, or adopting another replica's), over a login the store
/// held before only: a new login found there is left, and replaces the
/// store's at the next flight or sync. A store that lost its data (Redis
/// without persistence, restarted) is seeded again from these files.
pub async fn backup_to_file(store: &Redis, entry: &Entry, path: &Path, name: &str) {
    let Ok(lock) = FileLock::acquire_async(path, Duration::from_secs(5)).await else {
        return;
    };
    let Ok((_, on_disk)) = persist::load(path).await else {
        return;
    };
    if entry.is_new_login(store, on_disk.refresh_token.expose())
        || entry
            .credentials()
            .is_some_and(|c| c.refresh_token == on_disk.refresh_token)
    {
        return;
    }
    let saved = file::save_if_unchanged_async(
        Arc::new(lock),
        Some(on_disk.refresh_token),
        entry.file.clone(),
    )
    .await;
    if let Err(e) = saved {
        tracing::debug!(account = %name, error = %e.brief(), "the auth file did not take the store's login");
    }
}
