//! The refresh flight across replicas, when `[store]` is configured.
//!
//! The store's refresh lock replaces the auth file's lock: the holder
//! re-reads the store's login first and keeps the newest of three (the
//! store's, the auth file's, and the one this replica holds in memory:
//! `auth::mirror::age`, by when each was issued), writes it back if the store
//! did not have it, calls the issuer only if that login is still the stale
//! one, and writes the rotated login to the store (fenced by the lock) before
//! it releases the lock. A replica that finds the lock held never calls the
//! issuer: it waits for the store's login to change and uses it, unless its
//! own is newer. A store that cannot be reached fails the flight (`store
//! unavailable`) rather than refreshing without the lock.
//!
//! A rotated login the store refused stays this replica's (never replaced by
//! the store's older one): the lock is kept for it with a short expiry, and
//! the next flight (the store sync runs one every second) writes it. The auth
//! file gets the store's login too, as a backup; a backup that fails says so
//! once (log, `codex_pool_store_backup_failed`, `/admin/accounts`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{call_issuer, current, Job, RefreshError, Trace};
use crate::auth::file::{self, Credentials};
use crate::auth::lock::FileLock;
use crate::auth::mirror::{Age, Mirror};
use crate::auth::persist;
use crate::auth::stored::Entry;
use crate::clock;
use crate::secret::Secret;
use crate::store::{self, LockToken, Redis};

/// The lock's expiry: longer than the holder may take (three issuer tries of
/// 30 s at most, `call_issuer`, plus the store writes), so it never expires
/// under a live holder; each write under it sets it again.
const LOCK_TTL: Duration = Duration::from_secs(100);

/// The longest a shared flight may run: shutdown waits this long for one.
pub const SHARED_FLIGHT_MAX: Duration = LOCK_TTL;

/// The lock's expiry while a rotated login waits for the store: renewed by
/// every retry (one a second), so it lapses soon after its holder dies.
const PENDING_TTL: Duration = Duration::from_secs(15);

/// How often a replica waiting for another's refresh looks at the store.
const POLL: Duration = Duration::from_millis(100);

fn unavailable(e: store::Error) -> RefreshError {
    match e {
        store::Error::Unavailable => RefreshError::StoreUnavailable,
        store::Error::Undecryptable => RefreshError::Transient(e.to_string()),
    }
}

/// A flight's result, and whether a login of ours still waits for the store.
type Renewed = (Result<Arc<Credentials>, RefreshError>, bool);

impl Job {
    pub(super) async fn shared_flight(
        &self,
        shared: &Redis,
        trace: &mut Trace,
    ) -> Result<Arc<Credentials>, RefreshError> {
        let (tokens, name) = (&self.login.tokens, &self.login.name);
        // A rotated login the store refused: its lock is still ours.
        if let Some(lock) = tokens.mirror.take_lock() {
            match shared.extend_lock(name, &lock, LOCK_TTL).await {
                Ok(true) => return self.under_lock(shared, trace, lock).await,
                Ok(false) => {}
                Err(e) => {
                    tokens.mirror.keep_lock(lock);
                    return Err(unavailable(e));
                }
            }
        }
        let deadline = Instant::now() + self.lock_wait;
        loop {
            if let Some(lock) = shared.try_lock(name, LOCK_TTL).await.map_err(unavailable)? {
                return self.under_lock(shared, trace, lock).await;
            }
            // Another replica is refreshing: wait for its login, never call the issuer.
            if Instant::now() >= deadline {
                return Err(RefreshError::Transient(
                    "another replica's token refresh did not finish in time".into(),
                ));
            }
            tokio::time::sleep(POLL).await;
            let entry = Entry::load(shared, name).await.map_err(unavailable)?;
            let Some((entry, creds)) = entry.and_then(|e| e.credentials().map(|c| (e, c))) else {
                continue;
            };
            let ours_newer = tokens
                .credentials()
                .is_some_and(|local| entry.is_new_login(shared, &local));
            if Some(&creds.access_token) != self.stale.as_ref() && !ours_newer {
                tokens.set_credentials(creds);
                tokens.mirror.remember(&entry.file);
                trace.renewed = true;
                backup_to_file(shared, &entry, &self.login.path, name, &tokens.mirror).await;
                return current(tokens);
            }
        }
    }

    /// Renews under the lock, then releases it, or keeps it (short) while a
    /// login of ours waits for the store.
    async fn under_lock(
        &self,
        shared: &Redis,
        trace: &mut Trace,
        lock: LockToken,
    ) -> Result<Arc<Credentials>, RefreshError> {
        let name = &self.login.name;
        let (result, pending) = self.renew_shared(shared, trace, &lock).await;
        if pending {
            // If this fails too, the lock lapses by itself (LOCK_TTL).
            let _ = shared.extend_lock(name, &lock, PENDING_TTL).await;
            self.login.tokens.mirror.keep_lock(lock);
        } else {
            // If this fails, the lock expires by itself.
            let _ = shared.unlock(name, lock).await;
        }
        result
    }

    /// The newest of the store's, the file's and this replica's login, in
    /// the store. `Err`: the store could not be read or written.
    async fn newest(
        &self,
        shared: &Redis,
        lock: &LockToken,
    ) -> Result<Entry, (RefreshError, bool)> {
        let (tokens, path, name) = (&self.login.tokens, &self.login.path, &self.login.name);
        let stored = Entry::load(shared, name)
            .await
            .map_err(|e| (unavailable(e), false))?;
        let disk = persist::load(path).await.ok();
        let memory = tokens
            .credentials()
            .and_then(|c| tokens.mirror.login_for(&c).map(|f| (f, (*c).clone())));
        let mut entry = stored;
        let mut from_memory = false;
        let mut changed = false;
        for (file, creds, what) in [
            disk.map(|(f, c)| (f, c, "the auth file")),
            memory.map(|(f, c)| (f, c, "this replica's memory")),
        ]
        .into_iter()
        .flatten()
        {
            match &mut entry {
                None => {
                    tracing::info!(account = %name, "the store holds no login for this account; seeding it from {what}");
                    entry = Some(Entry::seed(shared, file));
                }
                Some(e) if e.age_of(shared, &creds) == Age::Newer => {
                    tracing::info!(account = %name, "{what} holds a newer login than the store; it replaces the store's");
                    e.file = file;
                    e.remember(shared);
                }
                Some(_) => continue,
            }
            changed = true;
            from_memory = what == "this replica's memory";
        }
        let Some(entry) = entry else {
            return Err((
                RefreshError::NeedsRelogin {
                    reason: "no login in the store or in the auth file".into(),
                },
                false,
            ));
        };
        if changed {
            match entry.save_locked(shared, name, lock, LOCK_TTL).await {
                Ok(true) => {}
                Ok(false) => {
                    return Err((
                        RefreshError::Transient("the refresh lock expired".into()),
                        false,
                    ))
                }
                Err(e) => return Err((unavailable(e), from_memory)),
            }
        }
        Ok(entry)
    }

    /// Under the store's lock: the newest login, refreshed if it is still
    /// the stale one, in the store. The flag: a login of ours waits for it.
    async fn renew_shared(&self, shared: &Redis, trace: &mut Trace, lock: &LockToken) -> Renewed {
        let (tokens, path, name) = (&self.login.tokens, &self.login.path, &self.login.name);
        let mut entry = match self.newest(shared, lock).await {
            Ok(e) => e,
            Err((e, pending)) => return (Err(e), pending),
        };
        let Some(creds) = entry.credentials() else {
            return (
                Err(RefreshError::NeedsRelogin {
                    reason: "no tokens in the store's login".into(),
                }),
                false,
            );
        };
        if Some(&creds.access_token) != self.stale.as_ref() {
            let changed = tokens
                .credentials()
                .is_none_or(|c| c.access_token != creds.access_token);
            tokens.set_credentials(creds);
            tokens.mirror.remember(&entry.file);
            trace.renewed = true;
            if changed {
                backup_to_file(shared, &entry, path, name, &tokens.mirror).await;
            }
            return (current(tokens), false);
        }
        if tokens.is_dead(&creds.refresh_token) {
            let e = tokens.last_error().unwrap_or(RefreshError::NeedsRelogin {
                reason: "the issuer refused this login's refresh token".into(),
            });
            return (Err(e), false);
        }
        trace.called_issuer = true;
        let answer = match call_issuer(&self.http, &self.issuer, &creds.refresh_token).await {
            Ok(a) => a,
            Err(e) => {
                if matches!(e, RefreshError::NeedsRelogin { .. }) {
                    tokens.mark_dead(creds.refresh_token.clone());
                }
                return (Err(e), false);
            }
        };
        let Some(new) = entry.file.tokens.as_mut() else {
            return (Err(RefreshError::Transient("no tokens".into())), false);
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
        entry.remember(shared);
        let Some(fresh) = entry.credentials() else {
            return (Err(RefreshError::Transient("no tokens".into())), false);
        };
        let stored = self.store_rotated(shared, &entry, lock).await;
        tokens.set_credentials(fresh);
        tokens.mirror.remember(&entry.file);
        trace.renewed = true;
        tracing::info!(account = %name, "access token refreshed (shared store)");
        backup_to_file(shared, &entry, path, name, &tokens.mirror).await;
        (current(tokens), !stored)
    }

    /// Writes the rotated login to the store, trying a few times: until it is
    /// there, it is the only copy of the account's newest refresh token.
    async fn store_rotated(&self, shared: &Redis, entry: &Entry, lock: &LockToken) -> bool {
        for attempt in 0..3u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200) * attempt).await;
            }
            if let Ok(true) = entry
                .save_locked(shared, &self.login.name, lock, LOCK_TTL)
                .await
            {
                return true;
            }
        }
        tracing::error!(account = %self.login.name,
            "the refreshed login could not be written to the store; this replica keeps it, holds the refresh lock for it, and writes it every second until the store takes it");
        false
    }
}

/// Writes the store's login to this replica's auth file too, as a backup
/// (after a refresh, or adopting another replica's), over an older login
/// only: a newer one found there is left, and replaces the store's at the
/// next flight or sync. A failure is said once, with what to do, and shows
/// in `mirror` (the metric and `/admin/accounts`) until a backup works.
pub async fn backup_to_file(
    shared: &Redis,
    entry: &Entry,
    path: &Path,
    name: &str,
    mirror: &Mirror,
) {
    match write_backup(shared, entry, path).await {
        Ok(()) => {
            if mirror.set_backup_failed(false) {
                tracing::info!(account = %name, "the auth file takes the store's login again");
            }
        }
        Err(why) => {
            if mirror.set_backup_failed(true) {
                tracing::warn!(account = %name, error = %why,
                    "the store's login could not be written to the auth file (its backup): make the file and its folder writable, or give Redis persistence; until then a Redis that loses its data is seeded from this replica's memory, and lost with it if this replica restarts too");
            }
        }
    }
}

async fn write_backup(shared: &Redis, entry: &Entry, path: &Path) -> Result<(), String> {
    let lock = FileLock::acquire_async(path, Duration::from_secs(5))
        .await
        .map_err(|e| e.brief())?;
    let on_disk = persist::load(path).await.ok().map(|(_, c)| c);
    if on_disk
        .as_ref()
        .is_some_and(|c| entry.age_of(shared, c) != Age::Older)
    {
        return Ok(());
    }
    let expected = on_disk.map(|c| c.refresh_token);
    file::save_if_unchanged_async(Arc::new(lock), expected, entry.file.clone())
        .await
        .map(|_| ())
        .map_err(|e| e.brief())
}

/// Whether `file`'s folder takes new files (an auth file is replaced by a
/// rename there); with `[store]`, said at start when it does not.
pub fn folder_writable(file: &Path) -> bool {
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let probe = dir.join(format!(".codex-pool-probe-{}", std::process::id()));
    let ok = std::fs::write(&probe, b"").is_ok();
    let _ = std::fs::remove_file(&probe);
    ok
}
