//! Which of two logins is newer, and what a replica keeps about its login
//! when a shared store (`[store]`) holds the truth.
//!
//! A login is newer than another by when its tokens were issued
//! (`Credentials::issued_at`: the tokens' `iat`, or `last_refresh`), never by
//! membership in a bounded history: a copy of an auth file older than any
//! number of rotations stays older. A newer login is never replaced by an
//! older one, whether that comes from a file, from the store, from a re-seed
//! or from a sealed value rolled back. Only when the two were issued in the
//! same second (or say nothing) does the store's history of refresh tokens
//! decide.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use super::file::{AuthFile, Credentials};
use crate::store::LockToken;
use crate::sync::lock;

/// How a login compares with another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Age {
    Newer,
    Same,
    Older,
}

/// How `candidate` compares with `current`; `held_before` says whether a
/// refresh token was `current`'s at some point (the store's history), for
/// logins whose issue times do not tell.
pub fn age(
    candidate: &Credentials,
    current: &Credentials,
    held_before: impl Fn(&str) -> bool,
) -> Age {
    if candidate.refresh_token == current.refresh_token {
        return Age::Same;
    }
    match (candidate.issued_at, current.issued_at) {
        (Some(c), Some(s)) if c > s => Age::Newer,
        (Some(c), Some(s)) if c < s => Age::Older,
        _ if held_before(candidate.refresh_token.expose()) => Age::Older,
        _ => Age::Newer,
    }
}

/// What a replica keeps about its login with a shared store.
#[derive(Default)]
pub struct Mirror {
    /// The whole login behind the slot's credentials, when it came from the
    /// store or a refresh: what seeds or repairs the store when this replica
    /// holds the newest login.
    login: Mutex<Option<AuthFile>>,
    /// The store's refresh lock, kept (with a short expiry, renewed) while
    /// a rotated login the store refused waits to be written.
    pending: Mutex<Option<LockToken>>,
    /// The last backup of the store's login to the auth file failed.
    backup_failed: AtomicBool,
    /// The store's login for this account does not open with our key.
    unreadable: AtomicBool,
    /// The last refresh failure said in the log without an issuer call.
    quiet_failure: Mutex<Option<String>>,
}

impl Mirror {
    pub fn remember(&self, file: &AuthFile) {
        *lock(&self.login) = Some(file.clone());
    }

    /// The whole login, if it is the one behind `creds`.
    pub fn login_for(&self, creds: &Credentials) -> Option<AuthFile> {
        lock(&self.login)
            .as_ref()
            .filter(|f| {
                f.tokens
                    .as_ref()
                    .is_some_and(|t| t.refresh_token == creds.refresh_token)
            })
            .cloned()
    }

    pub fn keep_lock(&self, token: LockToken) {
        *lock(&self.pending) = Some(token);
    }

    pub fn take_lock(&self) -> Option<LockToken> {
        lock(&self.pending).take()
    }

    /// Whether a rotated login waits to be written to the store.
    pub fn store_pending(&self) -> bool {
        lock(&self.pending).is_some()
    }

    /// Records a backup's outcome; `true` when this changed it (say it once).
    pub fn set_backup_failed(&self, failed: bool) -> bool {
        self.backup_failed.swap(failed, Ordering::Relaxed) != failed
    }

    pub fn backup_failed(&self) -> bool {
        self.backup_failed.load(Ordering::Relaxed)
    }

    /// Records whether the store's login opens; `true` when this changed it.
    pub fn set_unreadable(&self, unreadable: bool) -> bool {
        self.unreadable.swap(unreadable, Ordering::Relaxed) != unreadable
    }

    pub fn unreadable(&self) -> bool {
        self.unreadable.load(Ordering::Relaxed)
    }

    /// A refresh that failed before reaching the issuer: `true` when its
    /// reason differs from the last one said (say each reason once);
    /// `None` (a success) forgets it.
    pub fn note_quiet_failure(&self, reason: Option<&str>) -> bool {
        let mut last = lock(&self.quiet_failure);
        let new = reason.is_some() && last.as_deref() != reason;
        *last = reason.map(str::to_owned);
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn creds(rt: &str, issued: Option<i64>) -> Credentials {
        Credentials {
            access_token: Secret::new(format!("at-{rt}")),
            refresh_token: Secret::new(rt.into()),
            account_id: None,
            email: None,
            plan: None,
            expires_at: None,
            last_refresh: None,
            issued_at: issued,
            header_cache: Default::default(),
        }
    }

    #[test]
    fn issue_time_decides_whatever_the_history_says() {
        let never = |_: &str| false;
        let always = |_: &str| true;
        let old = creds("rt-old", Some(100));
        let new = creds("rt-new", Some(200));
        assert_eq!(
            age(&old, &new, never),
            Age::Older,
            "not in a bounded history is still older"
        );
        assert_eq!(age(&new, &old, always), Age::Newer);
        assert_eq!(age(&old, &old, never), Age::Same);
        // Issued in the same second, or without times: the history decides.
        let tie = creds("rt-tie", Some(200));
        assert_eq!(age(&tie, &new, never), Age::Newer);
        assert_eq!(age(&tie, &new, always), Age::Older);
        assert_eq!(age(&creds("x", None), &new, always), Age::Older);
    }
}
