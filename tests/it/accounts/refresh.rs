//! Token refresh against the mock issuer: on a 401 (once, then the replay),
//! before expiry, retried when the issuer stumbles; a dead login is marked
//! for a new one and routed around; an admin refresh adopts a new login;
//! shutdown waits for a refresh in flight. (One refresh for many requests,
//! in one gateway and across replicas: `replicas/logins.rs`.)

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::*;

use super::expiring;

#[tokio::test]
async fn upstream_401_refreshes_once_and_replays() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).accounts(&["a", "b"]).start().await;
    mock.script("a", unauthorized());
    let (s, h, text) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(s, 200, "{text}");
    assert_eq!(
        h["x-codex-pool-account"], "a",
        "the replay on the same account served"
    );
    let seen = mock.responses();
    assert_eq!(seen.len(), 2);
    assert_eq!(mock.token_calls().len(), 1);
    assert_ne!(
        seen[0].header("authorization"),
        seen[1].header("authorization"),
        "the replay used the new token"
    );
}

/// A refresh the issuer refuses (whether a request or the background loop
/// asked first) marks the login dead: shown, counted, and routed around
/// without the dead login ever reaching upstream.
#[tokio::test]
async fn a_refused_refresh_marks_relogin_and_the_pool_routes_around_it() {
    let mock = Mock::start().await;
    mock.token_answer(
        400,
        json!({"error": {"code": "refresh_token_expired", "message": "expired"}}),
    );
    let gw = expiring(&mock, 30).admin(ADMIN).start().await;
    let (s, h, _) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(s, 200);
    assert_eq!(h["x-codex-pool-account"], "b");
    assert_eq!(
        mock.accounts_hit(),
        ["b"],
        "a never reached upstream with a dead login"
    );
    let a = gw.account("a").await;
    assert_eq!(a["state"], "needs_relogin");
    assert!(a["reason"]
        .as_str()
        .unwrap()
        .contains("refresh_token_expired"));
    let s = gw
        .scrape_until("the refused refresh of a", |s| {
            metric(
                s,
                REFRESHES,
                &[("account", "a"), ("outcome", "needs_relogin")],
            ) == Some(1.0)
        })
        .await;
    state_is(&s, "a", "needs_relogin");
    assert_eq!(
        value(&s, REFRESHES, &[("account", "a"), ("outcome", "ok")]),
        0.0
    );
}

#[tokio::test]
async fn transient_issuer_errors_are_retried() {
    let mock = Mock::start().await;
    mock.token_answer(503, json!({"error": "temporarily_unavailable"}));
    let gw = expiring(&mock, 30).start().await;
    let (s, h, _) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(s, 200);
    assert_eq!(h["x-codex-pool-account"], "a");
    assert_eq!(mock.token_calls().len(), 2, "one failure, one retry");
    assert_eq!(gw.auth_json("a")["tokens"]["refresh_token"], "rt-rotated-2");
}

#[tokio::test]
async fn an_admin_refresh_after_a_new_login_revives_the_account() {
    let mock = Mock::start().await;
    mock.token_answer(400, json!({"error": {"code": "refresh_token_reused"}}));
    let gw = expiring(&mock, 30).admin(ADMIN).start().await;
    let (_, h, _) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(h["x-codex-pool-account"], "b");
    // The user logs in again; the operator asks for a refresh right away.
    gw.write_login(
        "a",
        Login::token(&access_token("relogged", 3600)).refresh_token("rt-new-login"),
    );
    let (status, text) = gw.admin_post("/admin/accounts/a/refresh").await;
    assert_eq!(status, 200, "{text}");
    let (_, h, _) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(h["x-codex-pool-account"], "a", "a serves again");
    assert_eq!(
        mock.token_calls().len(),
        1,
        "the new login was adopted, not refreshed"
    );
}

#[tokio::test]
async fn a_401_right_after_a_refresh_cools_the_account_and_it_comes_back() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .accounts(&["a", "b"])
        .admin(ADMIN)
        .toml("[pool]\nbackoff_base = \"1s\"\nbackoff_max = \"1s\"")
        .start()
        .await;
    // Upstream refuses a's login, even once it is refreshed.
    mock.script("a", unauthorized());
    mock.script("a", unauthorized());
    let (s, h, text) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(s, 200, "{text}");
    assert_eq!(h["x-codex-pool-account"], "b");
    assert_eq!(mock.accounts_hit(), ["a", "a", "b"]);
    assert_eq!(mock.token_calls().len(), 1);
    let a = gw.account("a").await;
    assert_eq!(a["state"], "cooling", "{a}");
    assert_eq!(a["reason"], "auth_rejected_after_refresh");
    // Upstream takes the login again; once the cooldown is over, a probe finds out.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (s, h, _) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(s, 200);
    assert_eq!(h["x-codex-pool-account"], "a", "a serves again");
    assert_eq!(gw.account("a").await["state"], "ready");
    assert_eq!(mock.token_calls().len(), 1, "no refresh was needed");
}

#[tokio::test]
async fn shutdown_waits_for_a_refresh_in_flight_to_write_its_token() {
    let mock = Mock::start().await;
    let gw = expiring(&mock, 3600).start().await;
    mock.token_delay(Duration::from_millis(1500));
    mock.script("a", unauthorized());
    let request = gw.post_later("/v1/chat/completions", &chat("gpt-5.4", "x"));
    eventually!(
        mock.token_calls().len() == 1,
        "the refresh never reached the issuer"
    );
    // The client goes away while the issuer is answering.
    request.abort();
    // Nothing is left to drain: only the refresh's own task still runs.
    let dir = gw.stop_keeping_dir().await;
    let on_disk: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("a.json")).unwrap()).unwrap();
    assert_eq!(
        on_disk["tokens"]["refresh_token"], "rt-rotated-1",
        "the gateway stopped before the rotated token reached the file"
    );
}
