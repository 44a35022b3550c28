//! Compare-and-swap saves: written when unchanged, kept and handed back when
//! another login got there first.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::auth::file::{load, save, TokenData};

const WAIT: Duration = Duration::from_secs(5);

fn login(refresh: &str) -> AuthFile {
    AuthFile {
        auth_mode: Some("chatgpt".into()),
        tokens: Some(TokenData {
            access_token: Secret::new(format!("at-{refresh}")),
            refresh_token: Secret::new(refresh.into()),
            ..TokenData::default()
        }),
        ..AuthFile::default()
    }
}

fn refresh_token(path: &Path) -> String {
    let f = load(path).unwrap();
    f.tokens.unwrap().refresh_token.expose().clone()
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn setup(refresh: Option<&str>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("auth.json");
    if let Some(rt) = refresh {
        save(&p, &login(rt)).unwrap();
    }
    (dir, p)
}

#[test]
fn an_unchanged_file_is_written() {
    let (dir, p) = setup(Some("rt-1"));
    let lock = FileLock::acquire(&p, WAIT).unwrap();
    let loaded = load(&p).unwrap();
    let expected = loaded.tokens.as_ref().map(|t| t.refresh_token.clone());
    let saved = save_if_unchanged(&lock, expected.as_ref(), &login("rt-2")).unwrap();
    assert!(matches!(saved, Saved::Written), "{saved:?}");
    assert_eq!(refresh_token(&p), "rt-2");
    assert_eq!(names(dir.path()), ["auth.json", "auth.json.lock"]);
}

#[test]
fn a_login_written_in_between_is_kept_and_handed_back() {
    let (dir, p) = setup(Some("rt-1"));
    let lock = FileLock::acquire(&p, WAIT).unwrap();
    let expected = Secret::new("rt-1".to_string());
    // Another program (a Codex CLI refresh, which takes no lock) writes meanwhile.
    save(&p, &login("rt-newer")).unwrap();
    let before = fs::read(&p).unwrap();

    let saved = save_if_unchanged(&lock, Some(&expected), &login("rt-2")).unwrap();

    let Saved::Superseded(disk) = saved else {
        panic!("overwrote a newer login: {saved:?}")
    };
    assert_eq!(disk.tokens.unwrap().refresh_token.expose(), "rt-newer");
    assert_eq!(fs::read(&p).unwrap(), before, "the disk copy was touched");
    assert_eq!(names(dir.path()), ["auth.json", "auth.json.lock"]);
}

#[test]
fn a_missing_file_is_unchanged_only_when_no_login_was_expected() {
    let (dir, p) = setup(None);
    let lock = FileLock::acquire(&p, WAIT).unwrap();
    let expected = Secret::new("rt-1".to_string());
    let saved = save_if_unchanged(&lock, Some(&expected), &login("rt-2")).unwrap();
    assert!(matches!(saved, Saved::Vanished), "{saved:?}");
    assert!(!p.exists(), "a removed login was written again");
    assert_eq!(names(dir.path()), ["auth.json.lock"]);

    let saved = save_if_unchanged(&lock, None, &login("rt-2")).unwrap();
    assert!(matches!(saved, Saved::Written), "{saved:?}");
    assert_eq!(refresh_token(&p), "rt-2");
}

#[test]
fn a_login_that_appeared_when_none_was_expected_is_kept() {
    let (_dir, p) = setup(Some("rt-fresh-login"));
    let lock = FileLock::acquire(&p, WAIT).unwrap();
    let saved = save_if_unchanged(&lock, None, &login("rt-2")).unwrap();
    assert!(matches!(saved, Saved::Superseded(_)), "{saved:?}");
    assert_eq!(refresh_token(&p), "rt-fresh-login");
}

#[test]
fn an_unchanged_file_that_became_too_open_is_written_and_private_again() {
    let (_dir, p) = setup(Some("rt-1"));
    fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
    let lock = FileLock::acquire(&p, WAIT).unwrap();
    let expected = Secret::new("rt-1".to_string());
    let saved = save_if_unchanged(&lock, Some(&expected), &login("rt-2")).unwrap();
    assert!(matches!(saved, Saved::Written), "{saved:?}");
    let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(refresh_token(&p), "rt-2");
}

#[test]
fn unreadable_content_on_disk_is_an_error_and_stays() {
    let (dir, p) = setup(None);
    fs::write(&p, "{\"tokens\": \"rt-in-a-broken-file").unwrap();
    let lock = FileLock::acquire(&p, WAIT).unwrap();
    let expected = Secret::new("rt-1".to_string());
    let err = save_if_unchanged(&lock, Some(&expected), &login("rt-2")).unwrap_err();
    assert!(matches!(err, FileError::Invalid { .. }), "{err}");
    assert!(!err.to_string().contains("rt-in"), "{err}");
    assert_eq!(
        fs::read_to_string(&p).unwrap(),
        "{\"tokens\": \"rt-in-a-broken-file"
    );
    assert_eq!(names(dir.path()), ["auth.json", "auth.json.lock"]);
}

#[test]
fn through_a_symlink_the_target_is_compared_and_replaced() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("real")).unwrap();
    let real = dir.path().join("real/auth.json");
    save(&real, &login("rt-1")).unwrap();
    let link = dir.path().join("auth.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let lock = FileLock::acquire(&link, WAIT).unwrap();
    let expected = Secret::new("rt-1".to_string());
    let saved = save_if_unchanged(&lock, Some(&expected), &login("rt-2")).unwrap();
    assert!(matches!(saved, Saved::Written), "{saved:?}");
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(refresh_token(&real), "rt-2");
}

#[tokio::test]
async fn the_async_save_writes_from_a_blocking_thread() {
    let (_dir, p) = setup(Some("rt-1"));
    let lock = Arc::new(FileLock::acquire_async(&p, WAIT).await.unwrap());
    let expected = Some(Secret::new("rt-1".to_string()));
    let saved = save_if_unchanged_async(Arc::clone(&lock), expected.clone(), login("rt-2"))
        .await
        .unwrap();
    assert!(matches!(saved, Saved::Written), "{saved:?}");
    let saved = save_if_unchanged_async(lock, expected, login("rt-3"))
        .await
        .unwrap();
    assert!(matches!(saved, Saved::Superseded(_)), "{saved:?}");
    assert_eq!(refresh_token(&p), "rt-2");
}
