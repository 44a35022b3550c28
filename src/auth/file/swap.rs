//! Compare-and-swap saving: write an auth file only if it still holds the
//! login the writer loaded.
//!
//! A refresh loads the file, spends seconds on the issuer, then saves. A login
//! written in between (`codex-pool login` or `import`, a Codex CLI refresh,
//! another gateway) carries the newest refresh token, and overwriting it would
//! lose it for good. So the file is read again right before the rename, and a
//! file whose refresh token is no longer the expected one is kept and handed
//! back for the caller to adopt. Writers of this program hold the auth file's
//! `FileLock` across load and save, which closes the window between them; the
//! re-read narrows it for programs that do not take the lock.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::{encode, parse, write_atomic_with, AuthFile, FileError};
use crate::auth::lock::FileLock;
use crate::secret::Secret;

/// How a compare-and-swap save ended.
#[derive(Debug)]
pub enum Saved {
    /// The file held the expected login (or none was expected and there was
    /// none); it now holds the new one.
    Written,
    /// The file holds another login than the expected one: it was kept as it
    /// is, and here it is. Adopt its tokens; do not spend the old ones.
    Superseded(Box<AuthFile>),
    /// A login was expected but the file is gone (removed on purpose, or moved):
    /// nothing was written.
    Vanished,
}

/// Writes `file` over the auth file `lock` guards, unless the file there no
/// longer holds the refresh token `expected` (the one the caller loaded;
/// `None` when it expected no login: a missing file, or one without tokens).
///
/// The check runs under the lock, after the new content is on disk in a temp
/// file and right before the rename. Unreadable or invalid content on disk is
/// an error, and nothing is written over it. Mode, owner and symlinks are
/// kept as `write_atomic` keeps them.
///
/// This blocks on fsync: on the server call it from `spawn_blocking`, or use
/// `save_if_unchanged_async`.
pub fn save_if_unchanged(
    lock: &FileLock,
    expected: Option<&Secret<String>>,
    file: &AuthFile,
) -> Result<Saved, FileError> {
    let path = lock.path();
    let bytes = encode(path, file)?;
    let veto = write_atomic_with(path, &bytes, |target| Ok(compare(path, target, expected)))
        .map_err(|source| FileError::Write {
            path: path.to_path_buf(),
            source,
        })?;
    veto.unwrap_or(Ok(Saved::Written))
}

/// `save_if_unchanged` on a blocking thread, for async code (a refresh). The
/// write goes on even if this future is dropped; the lock is released after it.
pub async fn save_if_unchanged_async(
    lock: Arc<FileLock>,
    expected: Option<Secret<String>>,
    file: AuthFile,
) -> Result<Saved, FileError> {
    let path = lock.path().to_path_buf();
    tokio::task::spawn_blocking(move || save_if_unchanged(&lock, expected.as_ref(), &file))
        .await
        .unwrap_or_else(|e| {
            Err(FileError::Write {
                path,
                source: io::Error::other(format!("the save task ended: {e}")),
            })
        })
}

/// `None` when `target` (what `path` resolves to) still holds `expected`;
/// else why the rename must not happen.
fn compare(
    path: &Path,
    target: &Path,
    expected: Option<&Secret<String>>,
) -> Option<Result<Saved, FileError>> {
    let disk = match fs::read(target) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // Unchanged (go on and write) only for a caller that expected no login.
            expected?;
            tracing::warn!(file = %path.display(), "the auth file was removed since it was loaded; not writing it again");
            return Some(Ok(Saved::Vanished));
        }
        Err(source) => {
            return Some(Err(FileError::Read {
                path: path.to_path_buf(),
                source,
            }))
        }
    };
    // Read whatever its mode: a file that became too open still holds the
    // login to compare with, and the save makes it 0600 again.
    let disk = match parse(path, &disk) {
        Ok(d) => d,
        Err(e) => return Some(Err(e)),
    };
    if disk.tokens.as_ref().map(|t| &t.refresh_token) == expected {
        return None;
    }
    tracing::warn!(file = %path.display(), "the auth file holds another login than the one this save started from; keeping it, not overwriting");
    Some(Ok(Saved::Superseded(Box::new(disk))))
}

#[cfg(test)]
mod tests;
