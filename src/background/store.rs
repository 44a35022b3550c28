//! With `[store]`: keeping this replica in step with the shared store
//! (`crate::store`): its connection state, the accounts' logins, their health.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::app::App;
use crate::auth::mirror::Age;
use crate::auth::refresh;
use crate::auth::stored::Entry;

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
    for account in app.snapshot().pool.accounts() {
        let file = account.settings().auth_file.clone();
        if !refresh::folder_writable(&file) {
            tracing::warn!(account = %account.name, file = %file.display(),
                "with [store], this auth file's folder cannot be written: rotated logins cannot be backed up there. Make it writable, or give Redis persistence: a Redis that loses its data then has only the replicas' memory to be seeded from");
        }
    }
    let mut health = crate::pool::replicas::HealthSync::default();
    let mut round = 0u32;
    loop {
        let snap = app.snapshot();
        let accounts = snap.pool.accounts();
        if round.is_multiple_of(LOGIN_EVERY) || !store.is_up() {
            let up = store.ping().await;
            // Usable, not only reachable: every stored login opens.
            let unreadable = accounts.iter().any(|a| a.tokens.mirror.unreadable());
            app.metrics.store_up(up && !unreadable);
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

/// One account: one GET in the common case (nothing changed). The store's
/// login is adopted only when it is newer than this replica's; a newer one
/// here (in the auth file, or in memory after a store write failed, or over
/// a value rolled back) goes to the store through a flight instead.
async fn sync_account(app: &App, store: &crate::store::Redis, account: &Arc<crate::pool::Account>) {
    let local = account.credentials();
    let mirror = &account.tokens.mirror;
    let stored = match Entry::load(store, &account.name).await {
        Ok(s) => s,
        Err(crate::store::Error::Undecryptable) => {
            if mirror.set_unreadable(true) {
                tracing::warn!(account = %account.name,
                    "the store's login for this account does not open with this replica's encryption key (another key file, or a damaged value): give every replica the same store.encryption_key_file; until then this replica renews nothing for it");
            }
            return;
        }
        Err(_) => return,
    };
    if mirror.set_unreadable(false) {
        tracing::info!(account = %account.name, "the store's login for this account opens again");
    }
    let path = account.settings().auth_file.clone();
    let on_disk = tokio::task::spawn_blocking(move || {
        crate::auth::file::load_credentials(&path)
            .ok()
            .map(|(_, c)| c)
    })
    .await
    .ok()
    .flatten();
    let file_is_new = matches!((&stored, &on_disk), (Some(e), Some(c)) if e.is_new_login(store, c));
    let in_step = match (&stored, &local) {
        _ if mirror.store_pending() => false,
        (Some(entry), Some(local)) => match entry.age_of(store, local) {
            Age::Newer => false,
            Age::Same => true,
            Age::Older => {
                adopt(account, entry);
                let path = account.settings().auth_file.clone();
                refresh::backup_to_file(store, entry, &path, &account.name, mirror).await;
                true
            }
        },
        (Some(entry), None) => {
            adopt(account, entry);
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

/// The store's (newer) login becomes this replica's.
fn adopt(account: &crate::pool::Account, entry: &Entry) {
    if let Some(theirs) = entry.credentials() {
        account.tokens.set_credentials(theirs);
        account.tokens.mirror.remember(&entry.file);
        account.revive();
    }
}
