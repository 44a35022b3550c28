//! One lock for everyone who writes a login: an exclusive `flock` on
//! `<canonical target>.lock`, beside the auth file's final target.
//!
//! Refresh, `login` and `import` take it before they write an auth file, so
//! a new login cannot land in the middle of a refresh that is about to save
//! the old one. The lock's name comes from the file's canonical path (links
//! followed), so two processes that reach one file through different paths
//! (a symlink, a relative path) still exclude each other. The lock is advisory:
//! the Codex CLI does not take it, which is what `file::save_if_unchanged`
//! is for. flock is released when the file closes, so a crash cannot leave it
//! held. A wait that runs out is an error: the caller must not go on unlocked.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::file::{canonical_target, FileError};

/// How often a held lock is tried again.
const POLL: Duration = Duration::from_millis(50);

/// An exclusive lock on an auth file; released when dropped.
#[derive(Debug)]
pub struct FileLock {
    /// The lock lives as long as this open file.
    _file: File,
    path: PathBuf,
    lock_path: PathBuf,
}

impl FileLock {
    /// Takes the lock for the auth file `path`, trying again for up to `wait`.
    ///
    /// This blocks the thread: call it from the CLI or from `spawn_blocking`;
    /// async code uses `acquire_async`.
    pub fn acquire(path: &Path, wait: Duration) -> Result<FileLock, FileError> {
        let (file, lock_path) = open(path)?;
        let deadline = std::time::Instant::now() + wait;
        loop {
            if try_lock(&file, &lock_path)? {
                return Ok(FileLock::held(file, path, lock_path));
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(FileError::Busy { lock_path, wait });
            }
            std::thread::sleep(POLL.min(left));
        }
    }

    /// `acquire` for async code: the lock file is opened on a blocking thread,
    /// and a held lock is tried again after short sleeps on tokio's clock, so
    /// no runtime worker is blocked while another process holds it.
    pub async fn acquire_async(path: &Path, wait: Duration) -> Result<FileLock, FileError> {
        let owned = path.to_path_buf();
        let (file, lock_path) = tokio::task::spawn_blocking(move || open(&owned))
            .await
            .map_err(|e| FileError::Lock {
                lock_path: path.to_path_buf(),
                source: io::Error::other(format!("the task opening the lock ended: {e}")),
            })??;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if try_lock(&file, &lock_path)? {
                return Ok(FileLock::held(file, path, lock_path));
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Err(FileError::Busy { lock_path, wait });
            }
            tokio::time::sleep(POLL.min(left)).await;
        }
    }

    fn held(file: File, path: &Path, lock_path: PathBuf) -> FileLock {
        FileLock {
            _file: file,
            path: path.to_path_buf(),
            lock_path,
        }
    }

    /// The auth file this lock guards, as the caller named it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lock file: `<canonical target of path()>.lock`.
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }
}

/// The lock file for the auth file `path`: its canonical target plus `.lock`.
/// The folder of that target must exist.
pub fn lock_path(path: &Path) -> io::Result<PathBuf> {
    let mut name = canonical_target(path)?.into_os_string();
    name.push(".lock");
    Ok(PathBuf::from(name))
}

/// Opens (creating, 0600) the lock file of `path`.
fn open(path: &Path) -> Result<(File, PathBuf), FileError> {
    let lock_path = lock_path(path).map_err(|source| FileError::Lock {
        lock_path: path.to_path_buf(),
        source,
    })?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock_path);
    match file {
        Ok(f) => Ok((f, lock_path)),
        Err(source) => Err(FileError::Lock { lock_path, source }),
    }
}

/// Whether the lock was free (and is now ours). A filesystem that cannot lock
/// is an error too: going on unlocked is what the lock is there to prevent.
fn try_lock(file: &File, lock_path: &Path) -> Result<bool, FileError> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(TryLockError::WouldBlock) => Ok(false),
        Err(TryLockError::Error(source)) => Err(FileError::Lock {
            lock_path: lock_path.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests;
