//! `doctor --refresh` against an issuer that rotates strictly (each refresh
//! token works once, as the real one): the rotated login is saved where a
//! gateway's refresh saves it, a gateway running meanwhile and one started
//! afterwards keep serving, and a revoked login is named with what to do.

use serde_json::json;

use super::*;

fn refresh_token(auth_file: &Path) -> String {
    tokens_of(auth_file)[1].clone()
}

#[tokio::test]
async fn refresh_saves_the_rotated_login_and_gateways_keep_serving() {
    let mock = Mock::start().await;
    mock.strict_rotation();
    let home = tempfile::tempdir().unwrap();
    let listen = free_listen();
    // A gateway running meanwhile, on the same files, holding the old tokens.
    let gw = Gateway::builder(&mock)
        .account("a")
        .toml(format!("[server]\nlisten = \"{listen}\""))
        .start()
        .await;
    let auth = gw.auth_path("a");
    let before = tokens_of(&auth);
    let out = doctor(&gw.config_path, home.path(), &["--refresh"]).await;
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);
    assert!(
        line(&out, "refresh a").contains("the issuer took the refresh token"),
        "{}",
        out.stdout
    );
    let calls = mock.token_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["refresh_token"], "rt-a");
    let after = tokens_of(&auth);
    assert_ne!(after[0], before[0], "a new access token in the file");
    assert!(
        after[1].starts_with("rt-rotated-"),
        "the rotated refresh token in the file: {}",
        after[1]
    );
    let mut secrets = before.clone();
    secrets.extend(after.clone());
    no_secrets(&out, &secrets);

    // Upstream takes only the new access token now: the running gateway is
    // refused its old one, adopts the file's login, never spends a token.
    mock.accept_only(&[&after[0]]);
    let (status, _, text) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(mock.token_calls().len(), 1, "the gateway adopted the login");
    assert_eq!(mock.reused_refreshes(), 0);
    let config = gw.config_path.clone();
    let _dir = gw.stop_keeping_dir().await;

    // Again: the saved refresh token is the live one.
    mock.accept_only(&[]);
    let out = doctor(&config, home.path(), &["--refresh"]).await;
    assert!(out.ok, "{}", out.stdout);
    assert_eq!(mock.reused_refreshes(), 0, "no spent token was sent");
    let last = tokens_of(&auth);
    assert_eq!(mock.token_calls()[1]["refresh_token"], after[1].as_str());
    assert_ne!(last[1], after[1]);

    // A gateway started afterwards serves with it.
    mock.accept_only(&[&last[0]]);
    let served = Served::start(&config).await;
    let (status, text) = served.chat().await;
    assert_eq!(status, 200, "{text}");
    let hit = mock.responses().pop().unwrap();
    assert_eq!(
        hit.header("authorization"),
        Some(format!("Bearer {}", last[0]).as_str())
    );
    served.stop().await;
    assert_eq!(mock.reused_refreshes(), 0);
}

#[tokio::test]
async fn a_revoked_refresh_token_is_named_with_the_login_to_run() {
    let mock = Mock::start().await;
    mock.token_answer(
        401,
        json!({"error": {"code": "refresh_token_invalidated", "message": "revoked"}}),
    );
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let cfg = Gateway::builder(&mock)
        .account("a")
        .write(dir.path(), Some(&free_listen()));
    let auth = dir.path().join("a.json");
    let before = tokens_of(&auth);
    let out = doctor(&cfg, home.path(), &["--refresh"]).await;
    assert!(!out.ok);
    assert_eq!(failures(&out), ["refresh a"], "{}", out.stdout);
    let refresh = line(&out, "refresh a");
    assert!(
        refresh.contains("refresh_token_invalidated")
            && refresh.ends_with("— codex-pool login --account a"),
        "{refresh}"
    );
    assert_eq!(mock.token_calls().len(), 1, "asked once");
    assert_eq!(tokens_of(&auth), before, "the login is left as it was");
    no_secrets(&out, &before);
    assert_eq!(refresh_token(&auth), "rt-a");
}
