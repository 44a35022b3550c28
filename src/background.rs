//! Background work tied to shutdown: proactive token refresh (and re-reading
//! files of accounts that need a new login), the models catalog, the
//! optional usage probe, and (with `[store]`) keeping in step with the store.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::app::App;
use crate::auth::refresh;
use crate::catalog::{Catalog, RefreshStreak};
use crate::clock;
use crate::pool::{Availability, Blame, Policy, Setback, State};

mod store;
mod usage;
pub(crate) use store::store_loop;
pub(crate) use usage::{open_usage, usage_loop};

/// Every 30 s: write tokens a file could not take yet (also of accounts a
/// reload dropped); refresh tokens whose `exp` is near; re-read the file of an
/// account that needs a new login, in case someone logged it in again.
pub(crate) async fn refresh_loop(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let snap = app.snapshot();
        let margin = snap.config.pool.refresh_before_expiry;
        app.accounts.persist_orphans().await;
        for account in snap.pool.accounts() {
            account.persist_unsaved().await;
            if account.health().state() == State::NeedsRelogin {
                let relogged = {
                    let account = Arc::clone(account);
                    tokio::task::spawn_blocking(move || account.reload_if_relogged())
                        .await
                        .unwrap_or(false)
                };
                if relogged {
                    tracing::info!(account = %account.name, "a new login was found in the auth file");
                }
                continue;
            }
            let Some(creds) = account.credentials() else {
                continue;
            };
            if !refresh::due(&creds, margin) {
                continue;
            }
            // Only a dead login changes the account's health here; a transient
            // failure is tried again on the next round.
            if let Err(e) = app.refresh_login(account, &creds).await {
                let policy = Policy::of(&snap.config.pool);
                account.failed(Some(&Setback::from(&e)), Blame::Refresh, policy);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(30)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// The models catalog now and every `upstream.models_refresh` until shutdown;
/// the last good one (or the built-in list) stays while upstream cannot answer.
pub(crate) async fn models_loop(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let mut streak = RefreshStreak::default();
    loop {
        let result = fetch_models(&app).await;
        let outcome = streak.record(
            result
                .as_ref()
                .map(|c| c.models.len())
                .map_err(String::as_str),
        );
        app.metrics.models_refresh(outcome == "ok");
        if let Ok(c) = result {
            for v in c
                .models
                .iter()
                .filter_map(|m| m.minimal_client_version.as_deref())
            {
                app.identity.learn(v, "the models catalog");
            }
            app.models.store(Arc::new(c));
        }
        let every = app.snapshot().config.upstream.models_refresh;
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Fetches upstream's list with one usable account per plan (plans list
/// different models) and merges the answers; a plan whose fetch fails is
/// left out while another answered.
async fn fetch_models(app: &App) -> Result<Catalog, String> {
    let snap = app.snapshot();
    let cfg = &snap.config.upstream;
    let mut plans: Vec<Option<String>> = Vec::new();
    let mut askers = Vec::new();
    for account in snap.pool.accounts() {
        let Some(creds) = account.credentials() else {
            continue;
        };
        if !account.availability(Instant::now()).usable() || plans.contains(&creds.plan) {
            continue;
        }
        plans.push(creds.plan.clone());
        askers.push((account, creds));
    }
    if askers.is_empty() {
        return Err("no usable account to ask for the models list".into());
    }
    // The ungated catalog: every model with its `minimal_client_version`,
    // whatever version the gateway sends (docs/upstream.md §1).
    let url = format!(
        "{}/models?client_version={}",
        cfg.base_url,
        crate::catalog::UNGATED_CLIENT_VERSION
    );
    let mut bodies = Vec::new();
    let mut last_error = String::new();
    for (account, creds) in askers {
        match snap
            .upstream
            .get_json(&url, &creds, cfg.connect_timeout + Duration::from_secs(20))
            .await
        {
            Ok((_, body)) => bodies.push(body),
            Err(e) => {
                tracing::debug!(account = %account.name, error = %e, "models list not fetched with this account");
                last_error = e.to_string();
            }
        }
    }
    if bodies.is_empty() {
        return Err(last_error);
    }
    Catalog::merged(bodies, clock::unix_now())
}

/// Every `pool.usage_probe_interval` (when set): ask `/wham/usage` for each
/// account's windows, so idle accounts show their quota too.
pub(crate) async fn usage_probe_loop(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let snap = app.snapshot();
        let Some(every) = snap.config.pool.usage_probe_interval else {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(60)) => continue,
                _ = shutdown.changed() => return,
            }
        };
        for account in snap.pool.accounts() {
            // A disabled account or a dead login gets no token sent for it.
            if matches!(
                account.availability(Instant::now()),
                Availability::Disabled { .. } | Availability::NeedsRelogin { .. }
            ) {
                continue;
            }
            app.probe_usage(account, Duration::from_secs(20)).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}
