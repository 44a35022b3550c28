//! Token refresh: single flight per login, under the file's lock, re-reading
//! the file first and saving by compare-and-swap.
//!
//! Refresh tokens rotate on every use, and two refreshes of one token log the
//! account out (`refresh_token_reused`). So: one refresh per login at a time
//! (the `TokenSlot`'s flight); whoever waited on it reuses the result; other
//! programs that take the auth file's `FileLock` (another gateway, `codex-pool
//! login`/`import`) wait for the flight and it for them, and a lock that cannot
//! be had fails the flight rather than refreshing unlocked. Before calling the
//! issuer the file is read again, in case someone (a Codex CLI, another
//! gateway) already refreshed it; the save then writes only over the login it
//! loaded (`persist.rs`), since programs that do not take the lock can still
//! write a newer login meanwhile.
//! This module reports how a refresh ended; what that means for the account
//! (back to ready, cooling, needs a new login) is the pool's decision.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde_json::json;

use super::file::{self, AuthFile, Credentials};
use super::flights::Flights;
use super::lock::FileLock;
use super::persist::{self, Settled};
use super::slot::{TokenSlot, Unsaved};
use super::CLIENT_ID;
use crate::clock;
use crate::secret::Secret;
use crate::store::Redis;

pub use super::slot::RefreshError;
pub use shared::{backup_to_file, folder_writable, SHARED_FLIGHT_MAX};

mod shared;

/// How long a flight waits for the auth file's lock (a `codex-pool login` or
/// another gateway's refresh holds it) before it fails as transient.
const LOCK_WAIT: Duration = Duration::from_secs(60);

#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    id_token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
}

const PERMANENT: &[&str] = &[
    "refresh_token_expired",
    "refresh_token_reused",
    "refresh_token_invalidated",
    "invalid_grant",
];

/// Whether the credentials should be refreshed now: `exp` within `margin`, or,
/// when `exp` is unreadable, a `last_refresh` older than 8 days.
pub fn due(creds: &Credentials, margin: Duration) -> bool {
    match creds.expires_at {
        Some(exp) => exp - clock::unix_now() < margin.as_secs() as i64,
        None => creds
            .last_refresh
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age > Duration::from_secs(8 * 24 * 3600)),
    }
}

/// The login a refresh is for: its token state, its auth file, its name in logs.
pub struct Login {
    pub tokens: Arc<TokenSlot>,
    pub path: PathBuf,
    pub name: String,
}

/// How one call of `refresh` ended, and whether it called the issuer itself
/// (requests that shared another flight's outcome did not).
pub struct Refreshed {
    pub result: Result<Arc<Credentials>, RefreshError>,
    pub called_issuer: bool,
}

/// Refreshes `login`'s token unless someone already replaced `stale`.
/// `stale: None` (with a shared store only): a sync, which adopts the
/// store's login (or seeds it from the auth file) and never calls the issuer.
///
/// The flight runs in a task of its own: once the issuer may have rotated the
/// refresh token, the new one must reach the file even if the request that
/// started the flight goes away (a dropped future would lose it, and with it
/// the account). The task is bounded by the lock wait and the issuer timeouts,
/// and counted in `flights` until it ends, so shutdown can wait for it.
/// `on_renewed` runs in that task when the flight stored fresh tokens (from
/// the issuer, or found in the file), so the caller's reaction is not lost
/// with the caller either.
pub async fn refresh(
    http: &reqwest::Client,
    issuer: &str,
    flights: &Flights,
    store: Option<&Arc<Redis>>,
    login: Login,
    stale: Option<&Secret<String>>,
    on_renewed: impl FnOnce() + Send + 'static,
) -> Refreshed {
    let job = Job {
        http: http.clone(),
        issuer: issuer.to_string(),
        login,
        stale: stale.cloned(),
        lock_wait: LOCK_WAIT,
        store: store.cloned(),
    };
    let ticket = flights.start();
    let flight = tokio::spawn(async move {
        let _counted = ticket;
        let mut trace = Trace::default();
        let result = job.single_flight(&mut trace).await;
        if trace.renewed {
            on_renewed();
        }
        Refreshed {
            result,
            called_issuer: trace.called_issuer,
        }
    });
    flight.await.unwrap_or_else(|e| Refreshed {
        result: Err(RefreshError::Transient(format!(
            "the refresh task ended: {e}"
        ))),
        called_issuer: false,
    })
}

/// What one refresh needs, owned by its task.
struct Job {
    http: reqwest::Client,
    issuer: String,
    login: Login,
    stale: Option<Secret<String>>,
    lock_wait: Duration,
    /// The shared store: its lock and login replace the file's (`shared.rs`).
    store: Option<Arc<Redis>>,
}

/// What a flight did besides its result.
#[derive(Default)]
struct Trace {
    called_issuer: bool,
    /// Fresh tokens were stored.
    renewed: bool,
}

/// The login a flight starts from: the file's, or tokens it could not take.
struct Base {
    file: AuthFile,
    creds: Credentials,
    /// The refresh token the file holds: the save writes only over it.
    expected: Secret<String>,
}

impl Job {
    async fn single_flight(&self, trace: &mut Trace) -> Result<Arc<Credentials>, RefreshError> {
        let (tokens, path, name) = (&self.login.tokens, &self.login.path, &self.login.name);
        // A flight that ended while we waited shares its failure instead of repeating it.
        let flight = tokens.board().await?;
        if let (Some(current), Some(stale)) = (tokens.credentials(), &self.stale) {
            if current.access_token != *stale {
                return Ok(current);
            }
        }
        if let Some(store) = &self.store {
            let result = self.shared_flight(store, trace).await;
            flight.land(result.as_ref().err().cloned());
            return result;
        }
        if self.stale.is_none() {
            return current(tokens);
        }
        // Held from the re-read to the save. It is never taken twice: the slot's
        // flight lock is held, and the retry of unsaved tokens boards it too.
        let result = match FileLock::acquire_async(path, self.lock_wait).await {
            Ok(file_lock) => self.renew(Arc::new(file_lock), trace).await,
            Err(e) => {
                tracing::warn!(account = %name, error = %e, "cannot lock the auth file; not refreshing without the lock");
                Err(RefreshError::Transient(e.brief()))
            }
        };
        flight.land(result.as_ref().err().cloned());
        result
    }

    /// One refresh: re-read the file, call the issuer if still needed, persist.
    async fn renew(
        &self,
        file_lock: Arc<FileLock>,
        trace: &mut Trace,
    ) -> Result<Arc<Credentials>, RefreshError> {
        let (tokens, path, name) = (&self.login.tokens, &self.login.path, &self.login.name);
        let Some(Base {
            mut file,
            creds: on_disk,
            expected,
        }) = self.base().await?
        else {
            trace.renewed = true;
            return current(tokens);
        };
        let ours = tokens.credentials();
        if ours
            .as_ref()
            .is_some_and(|c| c.refresh_token != on_disk.refresh_token)
            || Some(&on_disk.access_token) != self.stale.as_ref()
        {
            // Someone else refreshed (or logged in again): use theirs, do not spend
            // the old refresh token.
            tracing::info!(account = %name, "auth file changed on disk; using its tokens instead of refreshing");
            tokens.set_credentials(on_disk);
            trace.renewed = true;
            return current(tokens);
        }
        // A refresh token the issuer already called dead is not sent again.
        if tokens.is_dead(&on_disk.refresh_token) {
            return Err(tokens.last_error().unwrap_or(RefreshError::NeedsRelogin {
                reason: "the issuer refused this login's refresh token".into(),
            }));
        }
        trace.called_issuer = true;
        let answer = match call_issuer(&self.http, &self.issuer, &on_disk.refresh_token).await {
            Err(e @ RefreshError::NeedsRelogin { .. }) => {
                tokens.mark_dead(on_disk.refresh_token.clone());
                return Err(e);
            }
            other => other?,
        };
        let Some(new) = file.tokens.as_mut() else {
            return Err(RefreshError::NeedsRelogin {
                reason: "no tokens in the auth file".into(),
            });
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
        file.last_refresh = Some(clock::rfc3339_now());
        let creds = Credentials::from_tokens(new, file.last_refresh.as_deref());
        // The old refresh token is spent now: the new one is kept in memory if
        // the file cannot take it, and written again until it does.
        let pending = Unsaved {
            path: path.clone(),
            file: file.clone(),
            expected: expected.clone(),
        };
        let saved = file::save_if_unchanged_async(file_lock, Some(expected), file).await;
        match persist::settle(tokens, name, path, pending, saved) {
            // A newer login reached the file during the refresh: it is in use now.
            Settled::Adopted => {}
            // (`Left` cannot happen here: the flight saves the file it serves.)
            Settled::Written | Settled::Kept | Settled::Left => {
                tokens.set_credentials(creds);
                tracing::info!(account = %name, "access token refreshed");
            }
        }
        trace.renewed = true;
        current(tokens)
    }

    /// What the flight starts from, read under the file's lock. Tokens the
    /// file could not take yet are newer than the file, so they are the truth,
    /// unless a new login reached the file since (then it is adopted, and
    /// `None` says there is nothing left to refresh).
    async fn base(&self) -> Result<Option<Base>, RefreshError> {
        let (tokens, path, name) = (&self.login.tokens, &self.login.path, &self.login.name);
        let loaded = persist::load(path).await;
        // Unsaved tokens of another file (the account's file before a reload
        // moved it) are left to the retry, which writes them there.
        let Some(pending) = tokens.unsaved().filter(|u| u.path == *path) else {
            let (file, creds) = loaded.map_err(|e| unreadable(&e))?;
            let expected = creds.refresh_token.clone();
            return Ok(Some(Base {
                file,
                creds,
                expected,
            }));
        };
        if let Ok((_, theirs)) = loaded {
            if theirs.refresh_token != pending.expected {
                tracing::warn!(account = %name, "the auth file holds a newer login than the tokens it could not take; using it and dropping those");
                tokens.clear_unsaved_for(path);
                tokens.set_credentials(theirs);
                return Ok(None);
            }
        }
        let creds = pending
            .credentials()
            .ok_or_else(|| RefreshError::Transient("no tokens in memory".into()))?;
        Ok(Some(Base {
            file: pending.file,
            creds,
            expected: pending.expected,
        }))
    }
}

/// The credentials the flight left in `tokens`.
fn current(tokens: &TokenSlot) -> Result<Arc<Credentials>, RefreshError> {
    tokens
        .credentials()
        .ok_or_else(|| RefreshError::Transient("credentials vanished".into()))
}

async fn call_issuer(
    http: &reqwest::Client,
    issuer: &str,
    refresh_token: &Secret<String>,
) -> Result<TokenAnswer, RefreshError> {
    let body = json!({
        "client_id": CLIENT_ID,
        "grant_type": "refresh_token",
        "refresh_token": refresh_token.expose(),
    });
    let mut delay = Duration::from_millis(250);
    let mut last = String::new();
    for attempt in 0..3 {
        if attempt > 0 {
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
        let sent = http
            .post(format!("{issuer}/oauth/token"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .timeout(Duration::from_secs(30))
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            // Nothing reached the issuer: safe to try again.
            Err(e) if e.is_connect() => {
                last = format!("issuer unreachable: {e}");
                continue;
            }
            // The issuer may have rotated the token already: resending it could
            // be answered refresh_token_reused. Leave it to a later flight,
            // which re-reads the file first.
            Err(e) => {
                return Err(RefreshError::Transient(format!(
                    "issuer did not answer: {e}"
                )));
            }
        };
        let status = resp.status();
        let bytes = resp.bytes().await.unwrap_or_default();
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| {
                RefreshError::Transient(format!("issuer answered with unreadable JSON: {e}"))
            });
        }
        let code = error_code(&bytes);
        if status == reqwest::StatusCode::UNAUTHORIZED
            || code.as_deref().is_some_and(|c| PERMANENT.contains(&c))
        {
            return Err(RefreshError::NeedsRelogin {
                reason: code.unwrap_or_else(|| format!("issuer answered {status}")),
            });
        }
        last = format!(
            "issuer answered {status}{}",
            code.map(|c| format!(" ({c})")).unwrap_or_default()
        );
        // Only answers that say the request was not processed are retried.
        if !matches!(status.as_u16(), 429 | 503) {
            break;
        }
    }
    Err(RefreshError::Transient(last))
}

/// `error.code`, `error` (string) or `code` of an issuer error body.
fn error_code(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.pointer("/error/code")
        .or_else(|| v.get("error").filter(|e| e.is_string()))
        .or_else(|| v.get("code"))
        .and_then(|c| c.as_str())
        .map(str::to_owned)
}

/// What an auth file that cannot be read now means before the issuer was
/// asked: a file that is gone or holds no login needs a new login; one that
/// is briefly unreadable, too open or half-written by another program is
/// transient, and the next refresh tries again.
fn unreadable(e: &file::FileError) -> RefreshError {
    use std::io::ErrorKind;
    match e {
        file::FileError::NoTokens { .. } => RefreshError::NeedsRelogin { reason: e.brief() },
        file::FileError::Read { source, .. } if source.kind() == ErrorKind::NotFound => {
            RefreshError::NeedsRelogin { reason: e.brief() }
        }
        _ => RefreshError::Transient(e.brief()),
    }
}

#[cfg(test)]
mod tests;
