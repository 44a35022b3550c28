//! Writing rotated tokens to their auth file without clobbering a newer login.
//!
//! Both writers of refreshed tokens, the refresh flight right after the issuer
//! answered and the 30 s retry of tokens a file could not take (`persist_unsaved`),
//! save by compare-and-swap (`file::save_if_unchanged`) under the file's
//! `FileLock`, and read the outcome the same way (`settle`):
//! - written: nothing is left unsaved;
//! - the file holds another login (a `codex login`, `codex-pool import`, a
//!   Codex CLI refresh): it is newer than ours, so it is adopted and ours dropped;
//! - the file is gone: ours stay in memory only, and the file is not recreated;
//! - the write failed: ours stay in memory, unsaved, and are tried again.
//!
//! Unsaved tokens show as `codex_pool_account_unsaved_login` and as
//! `"unsaved": true` in `/admin/accounts`: until they are written, a restart
//! loses the login.

use std::path::Path;
use std::time::Duration;

use super::file::{self, AuthFile, Credentials, FileError, Saved};
use super::lock::FileLock;
use super::slot::{TokenSlot, Unsaved};

/// How long the retry waits for the file's lock; a holder is mid-refresh or
/// mid-login, and the next round (30 s later) tries again.
const RETRY_LOCK_WAIT: Duration = Duration::from_secs(5);

/// What a compare-and-swap save meant for the login.
pub(super) enum Settled {
    /// The file took the tokens.
    Written,
    /// The file held a newer login; its credentials are in use now.
    Adopted,
    /// The tokens stay in memory, unsaved (the file failed, or is gone).
    Kept,
    /// The file holds a newer login of its own and the account now uses
    /// another file: nothing is left to write, nothing to adopt.
    Left,
}

/// Applies the outcome of saving `pending` to `slot`: clears what was
/// written, adopts a newer login found in the file, keeps the rest unsaved.
/// `serving` is the file the account uses now: a newer login found in another
/// one (the account's file before a reload moved it) ends the wait for that
/// file but is not put in use. `name` names the account in the log; no token
/// is logged.
pub(super) fn settle(
    slot: &TokenSlot,
    name: &str,
    serving: &Path,
    pending: Unsaved,
    saved: Result<Saved, FileError>,
) -> Settled {
    let file = pending.path.display().to_string();
    match saved {
        Ok(Saved::Written) => {
            slot.clear_unsaved_for(&pending.path);
            Settled::Written
        }
        Ok(Saved::Superseded(disk)) => match usable(&disk) {
            Some(theirs) => {
                tracing::warn!(account = %name, file = %file,
                    "the auth file holds a newer login than the refreshed one; keeping it and dropping ours");
                slot.clear_unsaved_for(&pending.path);
                if pending.path != serving {
                    return Settled::Left;
                }
                slot.set_credentials(theirs);
                Settled::Adopted
            }
            None => {
                tracing::error!(account = %name, file = %file,
                    "the auth file now holds no login; keeping the refreshed tokens in memory only, not writing over it (a restart loses them)");
                slot.set_unsaved(pending);
                Settled::Kept
            }
        },
        Ok(Saved::Vanished) => {
            tracing::error!(account = %name, file = %file,
                "the auth file is gone; keeping the refreshed tokens in memory only, not recreating it (a restart loses them)");
            slot.set_unsaved(pending);
            Settled::Kept
        }
        Err(e) => {
            tracing::error!(account = %name, error = %e,
                "refreshed tokens cannot be written; keeping them in memory and trying again every 30 s (a restart loses them)");
            slot.set_unsaved(pending);
            Settled::Kept
        }
    }
}

/// The credentials of a login found on disk, if it is one requests can use.
pub(super) fn usable(file: &AuthFile) -> Option<Credentials> {
    let tokens = file.tokens.as_ref()?;
    if tokens.access_token.expose().is_empty() || tokens.refresh_token.expose().is_empty() {
        return None;
    }
    Some(Credentials::from_tokens(
        tokens,
        file.last_refresh.as_deref(),
    ))
}

/// How one try of writing unsaved tokens ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persisted {
    /// Nothing is left unsaved (written now, or there was nothing, or the
    /// file they belong to holds a newer login and the account uses another).
    Clean,
    /// The file held a newer login, which is now in use; nothing is left unsaved.
    Adopted,
    /// Still unsaved: the file failed again, is gone, or a flight is writing them.
    Pending,
}

/// Writes the tokens a refresh could not write (to the file they belong to,
/// only if it still holds the login they came from). Lock and save run on a
/// blocking thread. `serving` is the account's auth file now (see `settle`);
/// `name` names the account in the log.
pub async fn persist_unsaved(slot: &TokenSlot, name: &str, serving: &Path) -> Persisted {
    if !slot.has_unsaved() {
        return Persisted::Clean;
    }
    // A flight in progress starts from these tokens and saves them itself.
    let Some(_flight) = slot.try_board() else {
        return Persisted::Pending;
    };
    let Some(pending) = slot.unsaved() else {
        return Persisted::Clean;
    };
    let job = pending.clone();
    let saved = tokio::task::spawn_blocking(move || save_locked(&job))
        .await
        .unwrap_or_else(|e| {
            Err(FileError::Write {
                path: pending.path.clone(),
                source: std::io::Error::other(format!("the save task ended: {e}")),
            })
        });
    match settle(slot, name, serving, pending, saved) {
        Settled::Written => {
            tracing::info!(account = %name, "refreshed tokens written to the auth file");
            Persisted::Clean
        }
        Settled::Adopted => Persisted::Adopted,
        Settled::Left => Persisted::Clean,
        Settled::Kept => Persisted::Pending,
    }
}

/// Takes the file's lock and saves `pending` if the file still holds its login.
fn save_locked(pending: &Unsaved) -> Result<Saved, FileError> {
    let lock = FileLock::acquire(&pending.path, RETRY_LOCK_WAIT)?;
    file::save_if_unchanged(&lock, Some(&pending.expected), &pending.file)
}

/// Reads the auth file at `path` on a blocking thread.
pub(super) async fn load(path: &Path) -> Result<(AuthFile, Credentials), FileError> {
    let owned = path.to_path_buf();
    tokio::task::spawn_blocking(move || file::load_credentials(&owned))
        .await
        .unwrap_or_else(|e| {
            Err(FileError::Read {
                path: path.to_path_buf(),
                source: std::io::Error::other(format!("the read task ended: {e}")),
            })
        })
}

#[cfg(test)]
mod tests;
