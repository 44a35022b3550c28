//! `login` and `import` with `[store]`: the new login goes to the shared
//! store too (under the account's refresh lock, so it lands between two
//! refreshes, never in the middle of one), and the replicas use it at their
//! next sync (within a second). Without `[store]` nothing happens here.

use std::path::Path;
use std::time::Duration;

use crate::auth::file::AuthFile;
use crate::auth::stored::Entry;
use crate::config::Config;
use crate::store::Redis;

/// How long to wait for a replica's refresh of the account to finish.
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// Writes `file` (a new login of `account`) to the store the config at
/// `config` names, if it names one.
pub(super) async fn store_login(
    config: &Path,
    account: &str,
    file: &AuthFile,
) -> Result<(), String> {
    let config = match Config::load(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "note: the login was not put in a shared store: the config does not load:\n{e}"
            );
            return Ok(());
        }
    };
    let Some(store) = &config.store else {
        return Ok(());
    };
    let store = Redis::new(store)
        .map_err(|e| format!("store.redis_url cannot be used ({:?})", e.kind()))?;
    store.connect();
    let started = tokio::time::Instant::now();
    let lock = loop {
        match store.try_lock(account, LOCK_WAIT).await {
            Ok(Some(lock)) => break lock,
            Ok(None) if started.elapsed() < LOCK_WAIT => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok(None) => {
                return Err(format!(
                    "a replica's refresh of {account:?} holds the store's lock; the login is in its auth file, and a replica reading that file puts it in the store"
                ))
            }
            Err(e) => {
                return Err(format!(
                    "the shared store: {e}; the login is in its auth file, and a replica reading that file puts it in the store"
                ))
            }
        }
    };
    let entry = match Entry::load(&store, account).await {
        Ok(Some(mut e)) => {
            e.replace(&store, file.clone());
            e
        }
        _ => Entry::seed(&store, file.clone()),
    };
    let saved = entry.save(&store, account).await;
    let _ = store.unlock(account, lock).await;
    saved.map_err(|e| format!("the shared store: {e}"))?;
    println!("the login is in the shared store too; the replicas use it within a second");
    Ok(())
}
