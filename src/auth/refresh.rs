//! Token refresh: single flight per account, re-reading the file first.
//!
//! Refresh tokens rotate on every use, and two refreshes of one token log the
//! account out (`refresh_token_reused`). So: one refresh per account at a time
//! (the account's `refresh_lock`); whoever waited on the lock reuses the result;
//! and before calling the issuer the file is read again, in case another
//! program (a Codex CLI, another gateway) already refreshed it.

use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde_json::json;

use super::store::{self, Credentials};
use super::CLIENT_ID;
use crate::clock;
use crate::pool::{Account, Setback};
use crate::secret::Secret;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RefreshError {
    /// The login is dead; a new login is needed. `reason` is the issuer's code.
    #[error("the login needs to be renewed ({reason}); run `codex-pool login --account NAME`")]
    NeedsRelogin { reason: String },
    /// The issuer could not be reached or failed; try again later.
    #[error("token refresh failed: {0}")]
    Transient(String),
}

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

/// How one call of `refresh` ended, and whether it called the issuer itself
/// (requests that shared another flight's outcome did not).
pub struct Refreshed {
    pub result: Result<Arc<Credentials>, RefreshError>,
    pub called_issuer: bool,
}

/// Refreshes `account`'s token unless someone already replaced `stale`.
///
/// The flight runs in a task of its own: once the issuer may have rotated the
/// refresh token, the new one must reach the file even if the request that
/// started the flight goes away (a dropped future would lose it, and with it
/// the account). The task is bounded by the issuer timeouts.
pub async fn refresh(
    http: &reqwest::Client,
    issuer: &str,
    account: &Arc<Account>,
    stale: &Secret<String>,
) -> Refreshed {
    let (http, issuer, account, stale) = (
        http.clone(),
        issuer.to_string(),
        Arc::clone(account),
        stale.clone(),
    );
    let flight = tokio::spawn(async move {
        let mut called_issuer = false;
        let result = refresh_inner(&http, &issuer, &account, &stale, &mut called_issuer).await;
        Refreshed {
            result,
            called_issuer,
        }
    });
    flight.await.unwrap_or_else(|e| Refreshed {
        result: Err(RefreshError::Transient(format!(
            "the refresh task ended: {e}"
        ))),
        called_issuer: false,
    })
}

async fn refresh_inner(
    http: &reqwest::Client,
    issuer: &str,
    account: &Account,
    stale: &Secret<String>,
    called_issuer: &mut bool,
) -> Result<Arc<Credentials>, RefreshError> {
    let generation = account.refresh_generation.load(Ordering::Acquire);
    let _flight = account.refresh_lock.lock().await;
    if account.refresh_generation.load(Ordering::Acquire) != generation {
        // A flight ended while we waited: share its outcome, do not repeat it.
        if let Some(e) = account.last_refresh_error() {
            return Err(e);
        }
    }
    if let Some(current) = account.credentials() {
        if current.access_token != *stale {
            return Ok(current);
        }
    }
    let path = account.settings().auth_file.clone();
    // Other programs using this file (another gateway) wait for us, and we for them.
    let _file_lock = lock_file(&path).await;
    let result = fly(http, issuer, account, stale, called_issuer).await;
    account.end_refresh_flight(result.as_ref().err().cloned());
    result
}

/// An exclusive lock on `<auth_file>.lock`, so two processes sharing a login
/// never refresh it at once. Best effort: without it, the in-process single
/// flight and the file re-read still hold.
async fn lock_file(path: &std::path::Path) -> Option<std::fs::File> {
    let mut name = path.as_os_str().to_os_string();
    name.push(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&name)
        .ok()?;
    for _ in 0..600 {
        match file.try_lock() {
            Ok(()) => return Some(file),
            Err(std::fs::TryLockError::WouldBlock) => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(std::fs::TryLockError::Error(_)) => return None,
        }
    }
    None
}

/// One refresh: re-read the file, call the issuer if still needed, persist.
async fn fly(
    http: &reqwest::Client,
    issuer: &str,
    account: &Account,
    stale: &Secret<String>,
    called_issuer: &mut bool,
) -> Result<Arc<Credentials>, RefreshError> {
    let path = account.settings().auth_file.clone();
    // Tokens we could not write yet are newer than the file: they are the truth.
    let unsaved = account.unsaved_login();
    let (mut file, on_disk) = match unsaved {
        Some(pending) => {
            let creds = pending
                .tokens
                .as_ref()
                .map(|t| Credentials::from_tokens(t, pending.last_refresh.as_deref()))
                .ok_or_else(|| RefreshError::Transient("no tokens in memory".into()))?;
            (pending, creds)
        }
        None => store::load_credentials(&path)
            .map_err(|e| RefreshError::NeedsRelogin { reason: e.brief() })?,
    };
    let ours = account.credentials();
    if ours
        .as_ref()
        .is_some_and(|c| c.refresh_token != on_disk.refresh_token)
        || on_disk.access_token != *stale
    {
        // Someone else refreshed (or logged in again): use theirs, do not spend
        // the old refresh token.
        tracing::info!(account = %account.name, "auth file changed on disk; using its tokens instead of refreshing");
        account.set_credentials(on_disk);
        account.revive();
        return account
            .credentials()
            .ok_or_else(|| RefreshError::Transient("credentials vanished".into()));
    }
    // A refresh token the issuer already called dead is not sent again.
    if account.is_dead_refresh_token(&on_disk.refresh_token) {
        return Err(account
            .last_refresh_error()
            .unwrap_or(RefreshError::NeedsRelogin {
                reason: "the issuer refused this login's refresh token".into(),
            }));
    }
    *called_issuer = true;
    let answer = match call_issuer(http, issuer, &on_disk.refresh_token).await {
        Err(e @ RefreshError::NeedsRelogin { .. }) => {
            account.mark_dead_refresh_token(on_disk.refresh_token.clone());
            return Err(e);
        }
        other => other?,
    };
    let Some(tokens) = file.tokens.as_mut() else {
        return Err(RefreshError::NeedsRelogin {
            reason: "no tokens in the auth file".into(),
        });
    };
    if let Some(t) = answer.access_token {
        tokens.access_token = Secret::new(t);
    }
    if let Some(t) = answer.id_token {
        tokens.id_token = Secret::new(t);
    }
    if let Some(t) = answer.refresh_token {
        tokens.refresh_token = Secret::new(t);
    }
    file.last_refresh = Some(clock::rfc3339_now());
    let creds = Credentials::from_tokens(tokens, file.last_refresh.as_deref());
    // The old refresh token is spent now: the new one is kept in memory even if
    // the file cannot be written, and written again until it is.
    match store::save(&path, &file) {
        Ok(()) => account.set_unsaved_login(None),
        Err(e) => {
            tracing::error!(account = %account.name, error = %e, "refreshed tokens could not be written; keeping them in memory and retrying");
            account.set_unsaved_login(Some(file));
        }
    }
    account.set_credentials(creds);
    account.revive();
    tracing::info!(account = %account.name, "access token refreshed");
    account
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

impl RefreshError {
    pub fn setback(&self) -> Option<Setback> {
        match self {
            RefreshError::NeedsRelogin { reason } => Some(Setback::NeedsRelogin {
                reason: reason.clone(),
            }),
            RefreshError::Transient(_) => Some(Setback::Transient {
                kind: "auth_failed",
                retry_after: None,
            }),
        }
    }

    pub fn outcome(&self) -> &'static str {
        match self {
            RefreshError::NeedsRelogin { .. } => "needs_relogin",
            RefreshError::Transient(_) => "failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_error_codes_in_every_shape() {
        assert_eq!(
            error_code(br#"{"error":{"code":"refresh_token_reused"}}"#).as_deref(),
            Some("refresh_token_reused")
        );
        assert_eq!(
            error_code(br#"{"error":"refresh_token_expired"}"#).as_deref(),
            Some("refresh_token_expired")
        );
        assert_eq!(
            error_code(br#"{"code":"refresh_token_invalidated"}"#).as_deref(),
            Some("refresh_token_invalidated")
        );
        assert_eq!(error_code(b"<html>"), None);
    }

    #[test]
    fn due_by_exp_or_by_age() {
        let mut c = Credentials {
            access_token: Secret::new("a".into()),
            refresh_token: Secret::new("r".into()),
            account_id: None,
            email: None,
            plan: None,
            expires_at: Some(clock::unix_now() + 60),
            last_refresh: None,
        };
        assert!(due(&c, Duration::from_secs(300)));
        c.expires_at = Some(clock::unix_now() + 3600);
        assert!(!due(&c, Duration::from_secs(300)));
        c.expires_at = None;
        c.last_refresh = Some(SystemTime::now() - Duration::from_secs(9 * 24 * 3600));
        assert!(due(&c, Duration::from_secs(300)));
        c.last_refresh = Some(SystemTime::now());
        assert!(!due(&c, Duration::from_secs(300)));
    }
}
