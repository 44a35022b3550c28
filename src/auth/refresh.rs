//! Token refresh: single flight per account, re-reading the file first.
//!
//! Refresh tokens rotate on every use, and two refreshes of one token log the
//! account out (`refresh_token_reused`). So: one refresh per account at a time
//! (the account's `refresh_lock`); whoever waited on the lock reuses the result;
//! and before calling the issuer the file is read again, in case another
//! program (a Codex CLI, another gateway) already refreshed it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde_json::json;

use super::store::{self, Credentials};
use super::CLIENT_ID;
use crate::pool::{quota, Account, Setback};
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
        Some(exp) => exp - quota::unix_now() < margin.as_secs() as i64,
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
pub async fn refresh(
    http: &reqwest::Client,
    issuer: &str,
    account: &Account,
    stale: &Secret<String>,
) -> Refreshed {
    let mut called_issuer = false;
    let result = refresh_inner(http, issuer, account, stale, &mut called_issuer).await;
    Refreshed {
        result,
        called_issuer,
    }
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
    let result = fly(http, issuer, account, stale, called_issuer).await;
    account.end_refresh_flight(result.as_ref().err().cloned());
    result
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
    let (mut file, on_disk) =
        store::load_credentials(&path).map_err(|e| RefreshError::NeedsRelogin {
            reason: e.to_string(),
        })?;
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
        return account
            .credentials()
            .ok_or_else(|| RefreshError::Transient("credentials vanished".into()));
    }
    *called_issuer = true;
    let answer = call_issuer(http, issuer, &on_disk.refresh_token).await?;
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
    file.last_refresh = Some(store::now_rfc3339());
    let creds = Credentials::from_tokens(tokens, file.last_refresh.as_deref());
    // Persist before use: a rotated refresh token that only lives in memory is
    // lost on a crash, and the account with it.
    store::save(&path, &file).map_err(|e| RefreshError::Transient(e.to_string()))?;
    account.set_credentials(creds);
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
            Err(e) => {
                last = format!("issuer unreachable: {e}");
                continue;
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
        if status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS {
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
            expires_at: Some(quota::unix_now() + 60),
            last_refresh: None,
        };
        assert!(due(&c, Duration::from_secs(300)));
        c.expires_at = Some(quota::unix_now() + 3600);
        assert!(!due(&c, Duration::from_secs(300)));
        c.expires_at = None;
        c.last_refresh = Some(SystemTime::now() - Duration::from_secs(9 * 24 * 3600));
        assert!(due(&c, Duration::from_secs(300)));
        c.last_refresh = Some(SystemTime::now());
        assert!(!due(&c, Duration::from_secs(300)));
    }
}
