//! `[store]`: the URL, the prefix and the key file, and that without it the
//! gateway keeps all state in the process.

use super::*;
use std::os::unix::fs::PermissionsExt;

fn with_key(mode: u32, key: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("store.key");
    std::fs::write(&p, key).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    let text = p.display().to_string();
    (dir, text)
}

fn problems_of(text: &str) -> Vec<(String, String)> {
    parse(text)
        .err()
        .map(|e| e.problems.into_iter().map(|p| (p.key, p.message)).collect())
        .unwrap_or_default()
}

#[test]
fn without_a_store_section_state_stays_in_the_process() {
    assert!(parse("").unwrap().store.is_none());
}

#[test]
fn a_store_needs_a_redis_url_and_a_private_key_file() {
    let key = crate::seal::Key::generate().unwrap();
    let (_d, path) = with_key(0o600, &key);
    let ok = parse(&format!(
        "[store]\nredis_url = \"rediss://:store-pw-7f3a@redis.internal:6380/2\"\nencryption_key_file = \"{path}\"\n"
    ))
    .unwrap();
    let store = ok.store.unwrap();
    assert_eq!(store.key_prefix, "codex-pool:");
    let shown = format!("{store:?}");
    // A password distinct enough that the key file's random temp path cannot
    // contain it (a bare "pw" once did).
    assert!(
        !shown.contains("store-pw-7f3a") && !shown.contains(&key),
        "{shown}"
    );

    let found = problems_of("[store]\nredis_url = \"redis://127.0.0.1:6379/0\"\n");
    assert_eq!(found[0].0, "store.encryption_key_file");

    let found = problems_of(&format!(
        "[store]\nredis_url = \"http://:secretpw@x\"\nencryption_key_file = \"{path}\"\n"
    ));
    assert_eq!(found[0].0, "store.redis_url");
    assert!(
        !found[0].1.contains("secretpw"),
        "the URL may hold a password"
    );

    let (_d2, open) = with_key(0o644, &key);
    let found = problems_of(&format!(
        "[store]\nredis_url = \"redis://127.0.0.1/0\"\nencryption_key_file = \"{open}\"\n"
    ));
    assert_eq!(found[0].0, "store.encryption_key_file");
    assert!(found[0].1.contains("too open"), "{}", found[0].1);

    let (_d3, short) = with_key(0o600, "c2hvcnQ=");
    let found = problems_of(&format!(
        "[store]\nredis_url = \"redis://127.0.0.1/0\"\nencryption_key_file = \"{short}\"\n"
    ));
    assert!(found[0].1.contains("32-byte"), "{}", found[0].1);

    let found = problems_of("[store]\nkey_prefix = \"x:\"\n");
    assert_eq!(found[0].0, "store.redis_url");
    let found = problems_of("[store]\nredis = \"x\"\n");
    assert!(!found.is_empty(), "unknown keys stay an error");
}

#[test]
fn plain_redis_off_loopback_is_accepted_with_a_warning() {
    let key = crate::seal::Key::generate().unwrap();
    let (_d, path) = with_key(0o600, &key);
    let cfg = |url: &str| {
        parse(&format!(
            "[store]\nredis_url = \"{url}\"\nencryption_key_file = \"{path}\"\n"
        ))
        .unwrap()
    };
    let off = cfg("redis://:pw@redis.internal:6379/0");
    let w: Vec<_> = off
        .warnings
        .iter()
        .filter(|w| w.key == "store.redis_url")
        .collect();
    assert_eq!(w.len(), 1, "{:?}", off.warnings);
    assert!(w[0].message.contains("rediss://"));
    assert!(!w[0].message.contains("pw"));
    for quiet in [
        "redis://127.0.0.1:6379/0",
        "redis://localhost/0",
        "rediss://redis.internal/0",
    ] {
        let w = cfg(quiet).warnings;
        assert!(
            !w.iter().any(|w| w.key == "store.redis_url"),
            "{quiet}: {w:?}"
        );
    }
}
