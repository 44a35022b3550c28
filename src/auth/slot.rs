//! One account's token state, and the single-flight protocol over it.
//!
//! A `TokenSlot` holds the credentials requests use, the lock a refresh flight
//! holds, how the last flight ended, a refreshed login the file could not take
//! yet (`Unsaved`), and the refresh token the issuer refused for good. Only
//! `auth` can board a flight or touch the refresh state; everyone else reads
//! (and, on a new login, sets) the credentials.
//! What a failed refresh does to the account's health is the pool's business.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;

use super::file::{AuthFile, Credentials};
use crate::secret::Secret;
use crate::sync::lock;

/// How a refresh failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RefreshError {
    /// The login is dead; a new login is needed. `reason` is the issuer's code.
    #[error("the login needs to be renewed ({reason}); run `codex-pool login --account NAME`")]
    NeedsRelogin { reason: String },
    /// The issuer could not be reached or failed; try again later.
    #[error("token refresh failed: {0}")]
    Transient(String),
    /// The shared store (`[store]`) did not answer: without its lock the
    /// token is not renewed. This replica's trouble, not the account's.
    #[error("token refresh failed: store unavailable")]
    StoreUnavailable,
}

impl RefreshError {
    /// The `outcome` label of the refreshes metric.
    pub fn outcome(&self) -> &'static str {
        match self {
            RefreshError::NeedsRelogin { .. } => "needs_relogin",
            RefreshError::Transient(_) | RefreshError::StoreUnavailable => "failed",
        }
    }
}

/// One login's tokens and refresh state; an `Account` holds one.
#[derive(Default)]
pub struct TokenSlot {
    credentials: ArcSwapOption<Credentials>,
    /// Held by the one refresh flight of this login (across the issuer call).
    flight: tokio::sync::Mutex<()>,
    /// Bumped when a flight ends; with `last_error`, lets the requests that
    /// waited on a flight share its outcome instead of repeating it.
    generation: AtomicU64,
    last_error: Mutex<Option<RefreshError>>,
    /// Refreshed tokens the file could not take yet (disk full, read-only).
    unsaved: Mutex<Option<Unsaved>>,
    /// The refresh token the issuer last refused for good; never sent again.
    dead: Mutex<Option<Secret<String>>>,
    /// With a shared store: the whole login, a store write pending, the backup.
    pub mirror: super::mirror::Mirror,
}

/// Rotated tokens an auth file could not take, kept in memory (they are the
/// only copy of the login's newest refresh token) and written again later.
#[derive(Clone)]
pub struct Unsaved {
    /// The auth file they belong to: the account's file when they were made.
    pub path: PathBuf,
    pub file: AuthFile,
    /// The refresh token that file held when the save first failed. They are
    /// written only over a file that still holds it: anything else there is a
    /// newer login, which wins (`file::save_if_unchanged`).
    pub expected: Secret<String>,
}

impl Unsaved {
    /// The credentials these tokens give, if they hold any.
    pub fn credentials(&self) -> Option<Credentials> {
        self.file
            .tokens
            .as_ref()
            .map(|t| Credentials::from_tokens(t, self.file.last_refresh.as_deref()))
    }
}

/// The flight lock, held: the one refresh of this login in progress.
pub struct Flight<'a> {
    slot: &'a TokenSlot,
    _held: tokio::sync::MutexGuard<'a, ()>,
}

impl Flight<'_> {
    /// Records how the flight ended (`None`: success), for those who waited on it.
    /// The lock is released when the `Flight` is dropped.
    pub fn land(&self, error: Option<RefreshError>) {
        *lock(&self.slot.last_error) = error;
        self.slot.generation.fetch_add(1, Ordering::AcqRel);
    }
}

impl TokenSlot {
    pub fn credentials(&self) -> Option<Arc<Credentials>> {
        self.credentials.load_full()
    }

    pub fn set_credentials(&self, creds: Credentials) {
        self.credentials.store(Some(Arc::new(creds)));
    }

    /// Waits for the flight lock. `Err`: a flight ended while we waited and
    /// failed; its error is shared rather than the refresh repeated.
    pub(super) async fn board(&self) -> Result<Flight<'_>, RefreshError> {
        let generation = self.generation.load(Ordering::Acquire);
        let held = self.flight.lock().await;
        if self.generation.load(Ordering::Acquire) != generation {
            if let Some(e) = self.last_error() {
                return Err(e);
            }
        }
        Ok(Flight {
            slot: self,
            _held: held,
        })
    }

    /// How the last flight ended (`None`: success, or none flew yet).
    pub fn last_error(&self) -> Option<RefreshError> {
        lock(&self.last_error).clone()
    }

    pub(super) fn mark_dead(&self, token: Secret<String>) {
        *lock(&self.dead) = Some(token);
    }

    pub(super) fn is_dead(&self, token: &Secret<String>) -> bool {
        lock(&self.dead).as_ref() == Some(token)
    }

    pub(super) fn unsaved(&self) -> Option<Unsaved> {
        lock(&self.unsaved).clone()
    }

    pub(crate) fn set_unsaved(&self, pending: Unsaved) {
        *lock(&self.unsaved) = Some(pending);
    }

    /// Forgets the unsaved tokens of the file at `path`, now that it holds a
    /// login as new (written, or a newer one found there); unsaved tokens of
    /// another file (the account's file before a reload moved it) stay.
    pub(super) fn clear_unsaved_for(&self, path: &Path) {
        let mut pending = lock(&self.unsaved);
        if pending.as_ref().is_some_and(|u| u.path == path) {
            *pending = None;
        }
    }

    /// Whether this login holds rotated tokens its file could not take yet;
    /// a restart now would lose them.
    pub fn has_unsaved(&self) -> bool {
        lock(&self.unsaved).is_some()
    }

    /// The auth file unsaved tokens wait for, if any.
    pub fn unsaved_path(&self) -> Option<PathBuf> {
        lock(&self.unsaved).as_ref().map(|u| u.path.clone())
    }

    /// The flight lock if no flight holds it now (`None`: one is in progress).
    pub(super) fn try_board(&self) -> Option<Flight<'_>> {
        let held = self.flight.try_lock().ok()?;
        Some(Flight {
            slot: self,
            _held: held,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dead() -> RefreshError {
        RefreshError::NeedsRelogin {
            reason: "refresh_token_reused".into(),
        }
    }

    #[tokio::test]
    async fn a_waiter_shares_the_failure_of_the_flight_it_waited_on() {
        let slot = Arc::new(TokenSlot::default());
        let flight = slot.board().await.unwrap();
        let waiter = {
            let slot = Arc::clone(&slot);
            tokio::spawn(async move { slot.board().await.err() })
        };
        // Let the waiter read the generation and queue on the lock.
        tokio::task::yield_now().await;
        flight.land(Some(dead()));
        drop(flight);
        assert_eq!(waiter.await.unwrap(), Some(dead()));
    }

    #[tokio::test]
    async fn a_waiter_boards_after_a_flight_that_succeeded() {
        let slot = Arc::new(TokenSlot::default());
        let flight = slot.board().await.unwrap();
        let waiter = {
            let slot = Arc::clone(&slot);
            tokio::spawn(async move { slot.board().await.is_ok() })
        };
        tokio::task::yield_now().await;
        flight.land(None);
        drop(flight);
        assert!(waiter.await.unwrap());
    }

    #[tokio::test]
    async fn a_failure_that_ended_before_anyone_waited_is_not_shared() {
        let slot = TokenSlot::default();
        slot.board().await.unwrap().land(Some(dead()));
        assert!(slot.board().await.is_ok(), "a new flight may try again");
        assert_eq!(slot.last_error(), Some(dead()));
    }

    #[test]
    fn only_the_refused_token_is_dead() {
        let slot = TokenSlot::default();
        slot.mark_dead(Secret::new("r1".into()));
        assert!(slot.is_dead(&Secret::new("r1".into())));
        assert!(!slot.is_dead(&Secret::new("r2".into())));
    }
}
