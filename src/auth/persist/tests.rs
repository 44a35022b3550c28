//! The retry of unsaved tokens: written only over the login they came from, a
//! newer login found in the file wins, a vanished file is not recreated.

use std::fs;
use std::path::{Path, PathBuf};

use super::*;
use crate::auth::file::TokenData;
use crate::secret::Secret;

fn login(access: &str, refresh: &str) -> AuthFile {
    AuthFile {
        auth_mode: Some("chatgpt".into()),
        tokens: Some(TokenData {
            id_token: Secret::new("id".into()),
            access_token: Secret::new(access.into()),
            refresh_token: Secret::new(refresh.into()),
            ..TokenData::default()
        }),
        ..AuthFile::default()
    }
}

fn refresh_token_on_disk(path: &Path) -> String {
    let v: serde_json::Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
    v["tokens"]["refresh_token"].as_str().unwrap().to_string()
}

/// A slot holding unsaved `at-2`/`rt-2` for `dir/a.json`, made when the file held `rt-1`.
fn slot_with_unsaved(dir: &Path) -> (TokenSlot, PathBuf) {
    let path = dir.join("a.json");
    let slot = TokenSlot::default();
    let pending = Unsaved {
        path: path.clone(),
        file: login("at-2", "rt-2"),
        expected: Secret::new("rt-1".into()),
    };
    slot.set_credentials(pending.credentials().unwrap());
    slot.set_unsaved(pending);
    (slot, path)
}

#[tokio::test]
async fn unsaved_tokens_go_to_the_file_that_still_holds_their_login() {
    let dir = tempfile::tempdir().unwrap();
    let (slot, path) = slot_with_unsaved(dir.path());
    file::save(&path, &login("at-1", "rt-1")).unwrap();
    assert_eq!(persist_unsaved(&slot, "a", &path).await, Persisted::Clean);
    assert_eq!(refresh_token_on_disk(&path), "rt-2");
    assert!(!slot.has_unsaved());
}

#[tokio::test]
async fn a_newer_login_in_the_file_is_adopted_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let (slot, path) = slot_with_unsaved(dir.path());
    // `codex login` (or `codex-pool import`) wrote a new login meanwhile.
    file::save(&path, &login("at-new", "rt-new")).unwrap();
    assert_eq!(persist_unsaved(&slot, "a", &path).await, Persisted::Adopted);
    assert_eq!(
        refresh_token_on_disk(&path),
        "rt-new",
        "the new login stays"
    );
    assert!(!slot.has_unsaved());
    let creds = slot.credentials().unwrap();
    assert_eq!(creds.refresh_token.expose(), "rt-new");
    assert_eq!(creds.access_token.expose(), "at-new");
}

#[tokio::test]
async fn a_vanished_file_is_not_recreated_and_the_tokens_stay_unsaved() {
    let dir = tempfile::tempdir().unwrap();
    let (slot, path) = slot_with_unsaved(dir.path());
    assert_eq!(persist_unsaved(&slot, "a", &path).await, Persisted::Pending);
    assert!(!path.exists());
    assert!(slot.has_unsaved());
    assert_eq!(slot.credentials().unwrap().refresh_token.expose(), "rt-2");
}

#[tokio::test]
async fn a_file_that_cannot_be_written_keeps_the_tokens_unsaved() {
    let dir = tempfile::tempdir().unwrap();
    let (slot, path) = slot_with_unsaved(dir.path());
    // Unreadable content is never written over.
    fs::write(&path, "{not json").unwrap();
    assert_eq!(persist_unsaved(&slot, "a", &path).await, Persisted::Pending);
    assert!(slot.has_unsaved());
    assert_eq!(fs::read_to_string(&path).unwrap(), "{not json");
}

#[tokio::test]
async fn a_flight_in_progress_is_left_to_write_them() {
    let dir = tempfile::tempdir().unwrap();
    let (slot, path) = slot_with_unsaved(dir.path());
    file::save(&path, &login("at-1", "rt-1")).unwrap();
    let flight = slot.board().await.unwrap();
    assert_eq!(persist_unsaved(&slot, "a", &path).await, Persisted::Pending);
    assert_eq!(refresh_token_on_disk(&path), "rt-1");
    drop(flight);
    assert_eq!(persist_unsaved(&slot, "a", &path).await, Persisted::Clean);
}

#[tokio::test]
async fn a_newer_login_in_a_file_the_account_left_is_not_put_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let (slot, path) = slot_with_unsaved(dir.path());
    file::save(&path, &login("at-new", "rt-new")).unwrap();
    let now_serving = dir.path().join("moved.json");
    assert_eq!(
        persist_unsaved(&slot, "a", &now_serving).await,
        Persisted::Clean
    );
    assert!(!slot.has_unsaved());
    assert_eq!(refresh_token_on_disk(&path), "rt-new");
    assert_eq!(slot.credentials().unwrap().refresh_token.expose(), "rt-2");
}

#[test]
fn only_the_unsaved_tokens_of_the_file_written_are_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let (slot, _) = slot_with_unsaved(dir.path());
    slot.clear_unsaved_for(&dir.path().join("other.json"));
    assert!(slot.has_unsaved());
    slot.clear_unsaved_for(&dir.path().join("a.json"));
    assert!(!slot.has_unsaved());
}
