//! The auth files the gateway shares with other programs (a Codex CLI, a
//! new login): a rotation is written atomically with mode 0600 and kept even
//! when its request is gone; a file someone else refreshed or rewrote is
//! used, not overwritten; a symlinked file is locked where it points; an
//! unsafe file is refused and named; tokens a file cannot take are kept in
//! memory and shown as unsaved.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

use super::expiring;

#[tokio::test]
async fn rotation_is_persisted_atomically_with_mode_0600() {
    let mock = Mock::start().await;
    let gw = expiring(&mock, 30).start().await;
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
            .await
            .0,
        200
    );
    let f = gw.auth_json("a");
    assert_eq!(f["tokens"]["refresh_token"], "rt-rotated-1");
    assert_eq!(
        f["tokens"]["account_id"], "a",
        "fields the issuer did not send are kept"
    );
    assert_ne!(f["last_refresh"], "2026-11-01T00:00:00Z");
    let mode = std::fs::metadata(gw.dir().join("a.json"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let leftovers: Vec<String> = std::fs::read_dir(gw.dir())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn a_file_refreshed_by_someone_else_is_used_without_calling_the_issuer() {
    let mock = Mock::start().await;
    let gw = expiring(&mock, 30).start().await;
    // Another program (a Codex CLI) refreshed the login: new tokens on disk.
    let fresh = access_token("from-cli", 3600);
    gw.write_login("a", Login::token(&fresh).refresh_token("rt-cli"));
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
            .await
            .0,
        200
    );
    assert!(
        mock.token_calls().is_empty(),
        "the issuer must not be called: {:?}",
        mock.token_calls()
    );
    assert_eq!(
        mock.responses()[0].header("authorization").unwrap(),
        format!("Bearer {fresh}")
    );
}

#[tokio::test]
async fn a_refresh_whose_request_is_abandoned_still_keeps_the_rotated_token() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .account("a")
        .login(Login::default().refresh_token("rt-old"))
        .start()
        .await;
    mock.token_delay(Duration::from_millis(800));
    mock.script("a", unauthorized());
    let request = gw.post_later("/v1/chat/completions", &chat("gpt-5.4", "x"));
    eventually!(
        mock.token_calls().len() == 1,
        "the refresh never reached the issuer"
    );
    // The client goes away while the issuer is answering.
    request.abort();
    eventually!(
        gw.auth_json("a")["tokens"]["refresh_token"] == "rt-rotated-1",
        "the rotated token never reached the file"
    );
    assert_eq!(mock.token_calls().len(), 1);
}

#[tokio::test]
async fn a_login_written_during_a_refresh_is_kept_and_used() {
    let mock = Mock::start().await;
    let gw = expiring(&mock, 3600).start().await;
    mock.token_delay(Duration::from_millis(1500));
    mock.script("a", unauthorized());
    let first = gw.post_later("/v1/chat/completions", &chat("gpt-5.4", "hi"));
    eventually!(
        mock.token_calls().len() == 1,
        "the refresh never reached the issuer"
    );
    // While the issuer thinks, a new login lands in the file, without the lock
    // (`codex login` writing a Codex CLI's own file, or a copy of it).
    let newer = access_token("new-login", 3600);
    gw.write_login("a", Login::token(&newer).refresh_token("rt-new-login"));
    let (status, headers, _) = first.await.unwrap();
    assert_eq!(
        (status, headers["x-codex-pool-account"].to_str().unwrap()),
        (200, "a")
    );
    assert_eq!(
        gw.auth_json("a")["tokens"]["refresh_token"],
        "rt-new-login",
        "the newer login was overwritten by the refresh of the old one"
    );
    let (s, h, _) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(
        (s, &h["x-codex-pool-account"]),
        (200, &"a".parse().unwrap())
    );
    let seen = mock.responses();
    assert_eq!(seen.len(), 3, "the 401, its replay, the next request");
    for (i, s) in seen.iter().enumerate().skip(1) {
        assert_eq!(
            s.header("authorization").unwrap(),
            format!("Bearer {newer}"),
            "request {i} did not use the new login"
        );
    }
    assert_eq!(mock.token_calls().len(), 1);
}

#[tokio::test]
async fn a_refresh_waits_for_the_lock_of_the_file_a_symlink_points_to() {
    use codex_pool::auth::lock::FileLock;
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .account("a")
        .no_login()
        .prepare(|dir| {
            std::fs::create_dir(dir.join("real")).unwrap();
            Login::default()
                .refresh_token("rt-old")
                .write(&dir.join("real/a.json"), "a");
            std::os::unix::fs::symlink("real/a.json", dir.join("a.json")).unwrap();
        })
        .start()
        .await;
    let real = gw.dir().join("real/a.json");
    // Another program holds the lock, having reached the file by its real path.
    let held = FileLock::acquire(&real, Duration::from_secs(1)).unwrap();
    mock.script("a", unauthorized());
    let request = gw.post_later("/v1/chat/completions", &chat("gpt-5.4", "hi"));
    eventually!(
        mock.responses().len() == 1,
        "the request never reached upstream"
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        mock.token_calls().is_empty(),
        "the refresh did not wait for the lock"
    );
    drop(held);
    assert_eq!(request.await.unwrap().0, 200);
    assert_eq!(mock.token_calls().len(), 1);
    let on_disk: Value = serde_json::from_slice(&std::fs::read(&real).unwrap()).unwrap();
    assert_eq!(on_disk["tokens"]["refresh_token"], "rt-rotated-1");
    assert!(std::fs::symlink_metadata(gw.dir().join("a.json"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[tokio::test]
async fn an_unsafe_token_file_is_refused_and_named() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .account("a")
        .login(Login::default().mode(0o644))
        .account("b")
        .start()
        .await;
    let (s, h, _) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(s, 200);
    assert_eq!(h["x-codex-pool-account"], "b");
    let (_, text) = gw.get("/readyz", &[]).await;
    assert!(
        text.contains("too open") && text.contains("a.json"),
        "{text}"
    );
}

#[tokio::test]
async fn tokens_the_file_cannot_take_are_kept_and_shown_as_unsaved() {
    let mock = Mock::start().await;
    // A name the lock file fits in but the save's temp file does not
    // (`.NAME.tmp-<32 hex>` passes 255 bytes): the save fails, even for root.
    let long = format!("{}.json", "a".repeat(235));
    let gw = Gateway::builder(&mock)
        .account("a")
        .auth_file(&long)
        .login(Login::default().refresh_token("rt-old"))
        .account("b")
        .admin(ADMIN)
        .start()
        .await;
    let unsaved_gauge = |scrape: &str, account: &str| {
        metric(
            scrape,
            "codex_pool_account_unsaved_login",
            &[("account", account)],
        )
    };
    let scrape = gw.scrape().await;
    assert_eq!(unsaved_gauge(&scrape, "a"), Some(0.0));
    assert_eq!(gw.account("a").await["unsaved"], false);
    mock.script("a", unauthorized());
    let (s, h, _) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(
        (s, &h["x-codex-pool-account"]),
        (200, &"a".parse().unwrap())
    );
    assert_eq!(mock.token_calls().len(), 1);
    let on_disk: Value =
        serde_json::from_slice(&std::fs::read(gw.dir().join(&long)).unwrap()).unwrap();
    assert_eq!(
        on_disk["tokens"]["refresh_token"], "rt-old",
        "the save failed"
    );
    let scrape = gw.scrape().await;
    assert_eq!(unsaved_gauge(&scrape, "a"), Some(1.0));
    assert_eq!(unsaved_gauge(&scrape, "b"), Some(0.0));
    assert_eq!(gw.account("a").await["unsaved"], true);
    assert_eq!(gw.account("b").await["unsaved"], false);
    // The rotated tokens in memory are the ones used.
    let (s, _, _) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(s, 200);
    let seen = mock.responses();
    assert_eq!(
        seen[1].header("authorization"),
        seen[2].header("authorization")
    );
    assert_ne!(
        seen[0].header("authorization"),
        seen[2].header("authorization")
    );
}
