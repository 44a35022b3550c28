//! The registry across reloads: an account dropped while it holds unsaved
//! tokens keeps them until they are written, and comes back with them.

use std::path::Path;

use super::*;
use crate::auth::file::{AuthFile, TokenData};
use crate::auth::slot::Unsaved;
use crate::secret::Secret;

fn login(refresh: &str) -> AuthFile {
    AuthFile {
        tokens: Some(TokenData {
            id_token: Secret::new("id".into()),
            access_token: Secret::new(format!("at-{refresh}")),
            refresh_token: Secret::new(refresh.into()),
            ..TokenData::default()
        }),
        ..AuthFile::default()
    }
}

fn account(dir: &Path, name: &str) -> AccountConfig {
    let auth_file = dir.join(format!("{name}.json"));
    file::save(&auth_file, &login(&format!("rt-{name}-1"))).unwrap();
    AccountConfig {
        name: name.into(),
        auth_file,
        priority: 0,
        enabled: true,
    }
}

fn on_disk(path: &Path) -> String {
    let (_, c) = file::load_credentials(path).unwrap();
    c.refresh_token.expose().clone()
}

/// Gives `a` rotated tokens `rt-a-2` its file (still `rt-a-1`) did not take.
fn leave_unsaved(a: &Account) {
    a.tokens.set_unsaved(Unsaved {
        path: a.settings().auth_file.clone(),
        file: login("rt-a-2"),
        expected: Secret::new("rt-a-1".into()),
    });
}

#[tokio::test]
async fn a_dropped_account_still_writes_its_unsaved_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (account(dir.path(), "a"), account(dir.path(), "b"));
    let registry = Registry::default();
    let live = registry.sync(&[a.clone(), b.clone()]);
    leave_unsaved(&live[0]);
    let live = registry.sync(std::slice::from_ref(&b));
    assert_eq!(live.len(), 1);
    assert_eq!(lock(&registry.orphans).len(), 1, "a is kept aside");
    registry.persist_orphans().await;
    assert_eq!(on_disk(&a.auth_file), "rt-a-2");
    assert!(lock(&registry.orphans).is_empty(), "forgotten once written");
}

#[tokio::test]
async fn an_account_listed_again_comes_back_with_its_unsaved_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let a = account(dir.path(), "a");
    let registry = Registry::default();
    let first = registry.sync(std::slice::from_ref(&a));
    leave_unsaved(&first[0]);
    registry.sync(&[]);
    let again = registry.sync(std::slice::from_ref(&a));
    assert!(
        Arc::ptr_eq(&first[0], &again[0]),
        "the same account, state and all"
    );
    assert!(again[0].has_unsaved_login());
    assert!(lock(&registry.orphans).is_empty());
    assert!(again[0].persist_unsaved().await);
    assert_eq!(on_disk(&a.auth_file), "rt-a-2");
}

#[test]
fn an_account_without_unsaved_tokens_is_simply_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::default();
    registry.sync(&[account(dir.path(), "a")]);
    registry.sync(&[]);
    assert!(lock(&registry.orphans).is_empty());
}
