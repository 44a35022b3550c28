//! `[store]` against a real Redis: a key that cannot open what a gateway
//! sealed is named (and stops `--refresh`, which would need the store's
//! lock); the right key passes, and `--refresh` renews through the store,
//! where the running gateway picks the rotated login up. An unreachable
//! store is named by its URL without the password.

use super::*;
use crate::support::redis_server::Redis;

#[tokio::test]
async fn a_wrong_store_key_is_named_and_the_right_one_refreshes_through_the_store() {
    let redis = Redis::start().await;
    let mock = Mock::start().await;
    mock.strict_rotation();
    let home = tempfile::tempdir().unwrap();
    let keys_a = tempfile::tempdir().unwrap();
    let keys_b = tempfile::tempdir().unwrap();
    let (key_a, key_b) = (cli::store_key(keys_a.path()), cli::store_key(keys_b.path()));
    let gw = Gateway::builder(&mock)
        .account("a")
        .store(&redis.url(), &key_a)
        .toml(format!("[server]\nlisten = \"{}\"", free_listen()))
        .start()
        .await;
    // The gateway's first sync seals the login into the store with key A.
    eventually!(
        redis
            .dump()
            .await
            .iter()
            .any(|(k, _)| k.ends_with("tokens:a")),
        "the login never reached the store"
    );
    let mut secrets = tokens_of(&gw.auth_path("a"));
    for k in [&key_a, &key_b] {
        secrets.push(std::fs::read_to_string(k).unwrap().trim().to_string());
    }

    let wrong = config_variant(
        &gw.config_path,
        "key-b.toml",
        key_a.to_str().unwrap(),
        key_b.to_str().unwrap(),
    );
    let out = doctor(&wrong, home.path(), &["--refresh"]).await;
    assert!(!out.ok);
    assert!(passed(&out, "store"), "{}", out.stdout);
    assert_eq!(failures(&out), ["store key", "refresh a"], "{}", out.stdout);
    let key = line(&out, "store key");
    assert!(
        key.contains("store key cannot open stored values")
            && key.contains(key_b.to_str().unwrap())
            && key.contains("for a"),
        "{key}"
    );
    assert!(
        line(&out, "refresh a").contains("not tried"),
        "{}",
        out.stdout
    );
    assert!(mock.token_calls().is_empty(), "nothing sent to the issuer");
    no_secrets(&out, &secrets);
    let json = doctor(&wrong, home.path(), &["--json"]).await;
    assert!(!json.ok);
    no_secrets(&json, &secrets);

    // Key A opens it; --refresh renews under the store's lock.
    let out = doctor(&gw.config_path, home.path(), &["--refresh"]).await;
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);
    assert!(
        line(&out, "store key").contains("opens the logins stored for a"),
        "{}",
        out.stdout
    );
    assert!(
        line(&out, "refresh a").contains("saved in the shared store and"),
        "{}",
        out.stdout
    );
    assert_eq!(mock.token_calls().len(), 1);
    let after = tokens_of(&gw.auth_path("a"));
    assert!(
        after[1].starts_with("rt-rotated-"),
        "the file's backup: {after:?}"
    );
    secrets.extend(after.clone());
    no_secrets(&out, &secrets);

    // The running gateway takes the store's login up, spending nothing.
    mock.accept_only(&[&after[0]]);
    let (status, _, text) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(mock.token_calls().len(), 1);
    assert_eq!(mock.reused_refreshes(), 0);
}

#[tokio::test]
async fn an_unreachable_store_is_named_without_its_password() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let key = cli::store_key(dir.path());
    let cfg = Gateway::builder(&mock)
        .account("a")
        .store("redis://:hunter2@127.0.0.1:9/0", &key)
        .write(dir.path(), Some(&free_listen()));
    let out = doctor(&cfg, home.path(), &[]).await;
    assert!(!out.ok);
    assert_eq!(failures(&out), ["store"], "{}", out.stdout);
    assert!(
        line(&out, "store").contains("redis://:***@127.0.0.1:9/0 does not answer"),
        "{}",
        out.stdout
    );
    let mut secrets = tokens_of(&dir.path().join("a.json"));
    secrets.push("hunter2".into());
    secrets.push(std::fs::read_to_string(&key).unwrap().trim().to_string());
    no_secrets(&out, &secrets);
    let json = doctor(&cfg, home.path(), &["--json"]).await;
    same_checks(&out, &json);
    no_secrets(&json, &secrets);
}
