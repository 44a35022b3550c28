//! The lock's tests: one lock per file whatever the path, waits that run out
//! are errors, and the async acquire never blocks the runtime.

use std::fs;
use std::os::unix::fs::symlink;
use std::time::{Duration, Instant};

use super::*;

const SHORT: Duration = Duration::from_millis(150);

/// `dir/real/a.json` (written) and the link `dir/a.json` to it.
fn linked() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("real")).unwrap();
    let real = dir.path().join("real/a.json");
    fs::write(&real, "{}").unwrap();
    let link = dir.path().join("a.json");
    symlink("real/a.json", &link).unwrap();
    (dir, real, link)
}

#[test]
fn two_paths_to_one_file_take_one_lock() {
    let (dir, real, link) = linked();
    let held = FileLock::acquire(&link, SHORT).unwrap();
    let canonical = fs::canonicalize(&real).unwrap();
    assert_eq!(
        held.lock_path(),
        PathBuf::from(format!("{}.lock", canonical.display()))
    );
    assert_eq!(held.path(), link);
    let dotted = dir.path().join("real/../real/./a.json");
    for other in [&real, &dotted] {
        let err = FileLock::acquire(other, SHORT).unwrap_err();
        assert!(matches!(err, FileError::Busy { .. }), "{other:?}: {err}");
    }
}

#[test]
fn a_file_not_written_yet_locks_through_its_canonical_folder() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("real")).unwrap();
    symlink("real", dir.path().join("via")).unwrap();
    let held = FileLock::acquire(&dir.path().join("via/new.json"), SHORT).unwrap();
    let err = FileLock::acquire(&dir.path().join("real/new.json"), SHORT).unwrap_err();
    assert!(matches!(err, FileError::Busy { .. }), "{err}");
    assert!(!dir.path().join("real/new.json").exists());
    drop(held);
}

#[test]
fn a_wait_that_runs_out_is_an_error_naming_the_lock() {
    let (_dir, real, _) = linked();
    let _held = FileLock::acquire(&real, SHORT).unwrap();
    let started = Instant::now();
    let err = FileLock::acquire(&real, SHORT).unwrap_err();
    assert!(started.elapsed() >= SHORT, "gave up early");
    let text = err.to_string();
    assert!(
        text.contains("a.json.lock") && text.contains("held by another program"),
        "{text}"
    );
    assert_eq!(err.brief(), "a.json.lock is held by another program");
}

#[test]
fn the_lock_is_free_again_once_dropped() {
    let (_dir, real, link) = linked();
    drop(FileLock::acquire(&real, SHORT).unwrap());
    let held = FileLock::acquire(&real, SHORT).unwrap();
    let waiter = std::thread::spawn(move || FileLock::acquire(&link, Duration::from_secs(10)));
    std::thread::sleep(SHORT);
    assert!(!waiter.is_finished(), "the lock was taken twice");
    drop(held);
    assert!(waiter.join().unwrap().is_ok());
}

#[test]
fn a_missing_folder_is_an_error_not_a_lock() {
    let dir = tempfile::tempdir().unwrap();
    let err = FileLock::acquire(&dir.path().join("nowhere/a.json"), SHORT).unwrap_err();
    assert!(matches!(err, FileError::Lock { .. }), "{err}");
}

#[tokio::test(start_paused = true)]
async fn the_async_acquire_waits_on_tokio_time_without_blocking_the_runtime() {
    let (_dir, real, link) = linked();
    let held = FileLock::acquire_async(&real, SHORT).await.unwrap();
    // A current-thread runtime: were the wait blocking, this task could never
    // run and release the lock.
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(held);
    });
    let started = tokio::time::Instant::now();
    let got = FileLock::acquire_async(&link, Duration::from_secs(60)).await;
    assert!(got.is_ok(), "{got:?}");
    assert!(started.elapsed() >= Duration::from_secs(5));
    release.await.unwrap();

    let _again = got.unwrap();
    let err = FileLock::acquire_async(&real, Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(matches!(err, FileError::Busy { .. }), "{err}");
}
