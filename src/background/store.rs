//! With `[store]`: keeping this replica in step with the shared store
//! (`crate::store`): its connection state, the accounts' logins, their health.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::app::App;
use crate::auth::refresh;

/// How often a replica shares account health with the store.
const STORE_SYNC: Duration = Duration::from_millis(250);
/// Logins are checked every this many rounds (1 s).
const LOGIN_EVERY: u32 = 4;

/// With `[store]`: connects, and every `STORE_SYNC` pings the store (the
/// `codex_pool_store_up` gauge) and brings each account's login in step with
/// the store's (adopting a login another replica refreshed, seeding the store
/// from the auth file when it has none or the file holds a new login). After
/// an outage this is the resync; nothing else waits for it.
pub(crate) async fn store_loop(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let Some(store) = app.store.clone() else {
        return;
    };
    store.connect();
    let mut health = crate::pool::replicas::HealthSync::default();
    let mut round = 0u32;
    loop {
        let snap = app.snapshot();
        let accounts = snap.pool.accounts();
        if round.is_multiple_of(LOGIN_EVERY) || !store.is_up() {
            let up = store.ping().await;
            app.metrics.store_up(up);
            if up {
                for account in accounts {
                    sync_account(&app, &store, account).await;
                }
            }
        }
        if store.is_up() {
            health.round(&store, accounts).await;
            store.sync_budgets(&snap.keys).await;
        }
        round = round.wrapping_add(1);
        tokio::select! {
            _ = tokio::time::sleep(STORE_SYNC) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// One account: one GET in the common case (nothing changed).
async fn sync_account(app: &App, store: &crate::store::Redis, account: &Arc<crate::pool::Account>) {
    let local = account.credentials();
    let Ok(stored) = crate::auth::stored::Entry::load(store, &account.name).await else {
        return;
    };
    // A new login written to this replica's auth file replaces the store's.
    let path = account.settings().auth_file.clone();
    let on_disk = tokio::task::spawn_blocking(move || {
        crate::auth::file::load_credentials(&path)
            .ok()
            .map(|(_, c)| c.refresh_token)
    })
    .await
    .ok()
    .flatten();
    let file_is_new =
        matches!((&stored, &on_disk), (Some(e), Some(rt)) if e.is_new_login(store, rt.expose()));
    let in_step = match (&stored, &local) {
        (Some(entry), Some(local)) => {
            if entry.is_new_login(store, local.refresh_token.expose()) {
                false
            } else {
                if let Some(theirs) = entry.credentials() {
                    if theirs.access_token != local.access_token {
                        account.tokens.set_credentials(theirs);
                        account.revive();
                        let path = account.settings().auth_file.clone();
                        refresh::backup_to_file(store, entry, &path, &account.name).await;
                    }
                }
                true
            }
        }
        (Some(entry), None) => {
            if let Some(theirs) = entry.credentials() {
                account.tokens.set_credentials(theirs);
                account.revive();
            }
            true
        }
        (None, _) => false,
    };
    if !in_step || file_is_new {
        if let Err(e) = app.sync_login(account).await {
            tracing::debug!(account = %account.name, error = %e, "login not synced with the store");
        }
    }
}
