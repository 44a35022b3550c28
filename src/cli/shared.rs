//! `login` and `import` with `[store]`: the new login goes to the shared
//! store too (under the account's refresh lock, so it lands between two
//! refreshes, never in the middle of one), and the replicas use it at their
//! next sync (within a second). Without `[store]` nothing happens here.

use std::path::Path;
use std::time::Duration;

use crate::auth::file::AuthFile;
use crate::config::Config;
use crate::store::tokens::Entry;
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
    let shared = Redis::new(store)
        .map_err(|e| format!("store.redis_url cannot be used ({:?})", e.kind()))?;
    shared.connect();
    let started = tokio::time::Instant::now();
    let lock = loop {
        match shared.try_lock(account, LOCK_WAIT).await {
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
    let entry = match shared.load_login(account).await {
        Ok(Some(mut e)) => {
            e.file = file.clone();
            e.remember(&shared);
            e
        }
        _ => Entry::seed(&shared, file.clone()),
    };
    let saved = shared.save_login(account, &entry).await;
    let _ = shared.unlock(account, lock).await;
    saved.map_err(|e| format!("the shared store: {e}"))?;
    println!("the login is in the shared store too; the replicas use it within a second");
    Ok(())
}
