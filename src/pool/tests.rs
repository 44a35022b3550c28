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

#[tokio::test(start_paused = true)]
async fn peeking_shows_the_first_account_without_moving_the_rotation() {
    use crate::config::Strategy;
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::default();
    let live = registry.sync(&[account(dir.path(), "a"), account(dir.path(), "b")]);
    let pool = Pool::new(live, None);
    for _ in 0..3 {
        let shown = pool.peek(Strategy::RoundRobin, None).unwrap().unwrap();
        assert_eq!(shown.name, "a");
    }
    let plan = pool.plan(Strategy::RoundRobin, None).unwrap();
    assert_eq!(plan[0].name, "a", "the wheel had not moved");
    let plan = pool.plan(Strategy::RoundRobin, None).unwrap();
    assert_eq!(plan[0].name, "b");
}

#[tokio::test(start_paused = true)]
async fn the_first_to_reset_is_the_usage_limited_account_back_soonest() {
    use std::time::{Duration, SystemTime};
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::default();
    let live = registry.sync(&[
        account(dir.path(), "a"),
        account(dir.path(), "b"),
        account(dir.path(), "c"),
    ]);
    let pool = Pool::new(live.clone(), None);
    assert!(pool.first_to_reset(None).is_none());
    let policy = Policy {
        backoff_base: Duration::from_secs(1),
        backoff_max: Duration::from_secs(1),
        outlier_failures: 1,
    };
    let limited = |secs| Setback::UsageLimited {
        resets_at: SystemTime::now() + Duration::from_secs(secs),
    };
    live[0].failed(Some(&limited(600)), Blame::Account, policy);
    live[1].failed(Some(&limited(60)), Blame::Account, policy);
    let server_error = Setback::Transient {
        kind: "server_error",
        retry_after: Some(Duration::from_secs(5)),
    };
    live[2].failed(Some(&server_error), Blame::Account, policy);
    assert_eq!(pool.first_to_reset(None).unwrap().name, "b");
    let only_a = ["a".to_string()];
    assert_eq!(pool.first_to_reset(Some(&only_a)).unwrap().name, "a");
}
