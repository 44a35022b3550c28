//! The accounts' logins: readable, expiry, a refresh token present; and,
//! with `--refresh`, one renewal each through the gateway's own refresh
//! (`auth::refresh`), so the issuer's answer is known and the rotated login
//! is kept exactly where a gateway keeps it.
//!
//! A refresh spends the old refresh token: its result must be saved or the
//! login is lost. So the renewal is the gateway's flight (the auth file's
//! lock, or the store's lock with `[store]`; re-read first; compare-and-swap
//! save; with `[store]`, the store written under its lock and the file as a
//! backup), the doctor waits for it to end, and a login whose auth file
//! cannot be written is not renewed at all.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::report::{Check, Report};
use super::store::Shared;
use crate::auth::file::{self, Credentials};
use crate::auth::flights::Flights;
use crate::auth::persist::{self, Persisted};
use crate::auth::refresh::{self, RefreshError};
use crate::auth::slot::TokenSlot;
use crate::config::Config;
use crate::store::Redis;
use crate::upstream::Client;

/// How many times tokens the file could not take are written again before
/// the doctor gives up (and says so).
const SAVE_TRIES: u32 = 5;

/// An account whose login could be read.
pub(super) struct Usable {
    pub name: String,
    pub path: PathBuf,
    pub enabled: bool,
    pub creds: Credentials,
}

/// Each account's login, one line each; the ones that can be used.
pub(super) fn read(cfg: &Config, r: &mut Report) -> Vec<Usable> {
    let mut usable = Vec::new();
    let now = crate::clock::unix_now();
    for a in &cfg.accounts {
        let name = format!("login {}", a.name);
        let relogin = format!("codex-pool login --account {}", a.name);
        match file::load_credentials(&a.auth_file) {
            Err(e) => r.push(Check::bad(&name, &e.to_string(), &relogin)),
            Ok((_, c)) if c.refresh_token.expose().is_empty() => {
                r.push(Check::bad(&name, "no refresh token", &relogin));
            }
            Ok((_, c)) => {
                let expiry = match c.expires_at {
                    Some(t) if t > now => format!("access token expires in {} min", (t - now) / 60),
                    Some(_) => "access token expired (the refresh token renews it)".into(),
                    None => "access token expiry unreadable".into(),
                };
                let plan = c.plan.clone().unwrap_or_else(|| "unknown".into());
                let off = if a.enabled { "" } else { " (account disabled)" };
                r.push(Check::good(
                    &name,
                    &format!("readable, plan {plan}, {expiry}, refresh token present{off}"),
                ));
                usable.push(Usable {
                    name: a.name.clone(),
                    path: a.auth_file.clone(),
                    enabled: a.enabled,
                    creds: c,
                });
            }
        }
    }
    usable
}

/// `--refresh`: renews each readable login once; `logins` then hold the
/// renewed credentials.
pub(super) async fn refresh(
    cfg: &Config,
    client: &Client,
    shared: &Shared,
    logins: &mut [Usable],
    r: &mut Report,
) {
    let store = match shared {
        Shared::Off => None,
        Shared::Up(s) => Some(s),
        Shared::Broken => {
            for u in logins.iter() {
                r.push(Check::bad(
                    &format!("refresh {}", u.name),
                    "not tried: the shared store is not usable (see store above), and a refresh without its lock could log the account out",
                    "fix [store] first",
                ));
            }
            return;
        }
    };
    let flights = Flights::default();
    for u in logins.iter_mut() {
        let check = renew(cfg, client, store, &flights, u).await;
        r.push(check);
    }
    // Every flight was awaited; this only bounds a task still finishing.
    flights.wait_idle(refresh::SHARED_FLIGHT_MAX).await;
}

/// One login's renewal, and the line that says how it went.
async fn renew(
    cfg: &Config,
    client: &Client,
    store: Option<&Arc<Redis>>,
    flights: &Flights,
    u: &mut Usable,
) -> Check {
    let name = format!("refresh {}", u.name);
    let relogin = format!("codex-pool login --account {}", u.name);
    if !writable(&u.path) {
        return Check::bad(
            &name,
            &format!(
                "not tried: {} or its folder cannot be written, and the rotated login would be lost",
                u.path.display()
            ),
            "make the auth file and its folder writable",
        );
    }
    let tokens = Arc::new(TokenSlot::default());
    tokens.set_credentials(u.creds.clone());
    let login = || refresh::Login {
        tokens: Arc::clone(&tokens),
        path: u.path.clone(),
        name: u.name.clone(),
    };
    let (http, issuer) = (client.http(), cfg.upstream.issuer.as_str());
    // With a store, start from its login (a replica may have renewed it
    // since the file was written), as a gateway's sync does.
    if store.is_some() {
        let synced = refresh::refresh(http, issuer, flights, store, login(), None, || {}).await;
        if let Err(e) = synced.result {
            return failed(&name, &relogin, e);
        }
    }
    let Some(stale) = tokens.credentials() else {
        return Check::bad(&name, "no credentials to renew", &relogin);
    };
    let done = refresh::refresh(
        http,
        issuer,
        flights,
        store,
        login(),
        Some(&stale.access_token),
        || {},
    )
    .await;
    let creds = match done.result {
        Ok(c) => c,
        Err(e) => return failed(&name, &relogin, e),
    };
    let sync = || refresh::refresh(http, issuer, flights, store, login(), None, || {});
    if let Some(lost) = unsaved(&tokens, u, store.is_some(), sync).await {
        return lost;
    }
    u.creds = (*creds).clone();
    let kept = match store {
        Some(_) => format!("the shared store and {}", u.path.display()),
        None => u.path.display().to_string(),
    };
    if done.called_issuer {
        Check::good(
            &name,
            &format!("the issuer took the refresh token; the rotated login is saved in {kept}"),
        )
    } else {
        Check::good(
            &name,
            &format!(
                "another program renewed this login meanwhile; its tokens (in {kept}) are in use"
            ),
        )
    }
}

/// A rotated login the file (or, with `[store]`, the store) did not take
/// yet is written again a few times, as the gateway's retries would (for
/// the store, a sync flight: it writes the login waiting for the store and
/// never calls the issuer); if it still is not, the line says so.
async fn unsaved<F>(
    tokens: &TokenSlot,
    u: &Usable,
    shared: bool,
    sync: impl Fn() -> F,
) -> Option<Check>
where
    F: std::future::Future<Output = refresh::Refreshed>,
{
    for _ in 0..SAVE_TRIES {
        if shared && tokens.mirror.store_pending() {
            let _ = sync().await;
        }
        let file = persist::persist_unsaved(tokens, &u.name, &u.path).await;
        let store_done = !(shared && tokens.mirror.store_pending());
        if file != Persisted::Pending && store_done {
            return None;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let (name, path) = (format!("refresh {}", u.name), u.path.display());
    let relogin = format!(
        "fix that, then run codex-pool doctor again; if the account fails, codex-pool login --account {}",
        u.name
    );
    if shared && tokens.mirror.store_pending() && !tokens.mirror.backup_failed() {
        return Some(Check::bad(
            &name,
            &format!("the rotated login is in {path}, but the shared store did not take it; the replicas reading that file put it there"),
            "check Redis",
        ));
    }
    Some(Check::bad(
        &name,
        &format!("the issuer rotated the login, but {path} does not take it"),
        &relogin,
    ))
}

fn failed(name: &str, relogin: &str, e: RefreshError) -> Check {
    match e {
        RefreshError::NeedsRelogin { reason } => Check::bad(
            name,
            &format!("the issuer no longer takes this login's refresh token ({reason})"),
            relogin,
        ),
        RefreshError::StoreUnavailable => Check::bad(
            name,
            "the shared store did not answer, so nothing was sent to the issuer",
            "check [store] and try again",
        ),
        RefreshError::Transient(why) => Check::bad(
            name,
            &format!("token refresh failed: {why}"),
            "check the network to the issuer and try again",
        ),
    }
}

/// Whether the auth file and its folder take a new file (a save replaces it
/// by a rename in that folder).
fn writable(path: &std::path::Path) -> bool {
    let file_ok = std::fs::OpenOptions::new().append(true).open(path).is_ok();
    file_ok && refresh::folder_writable(path)
}
