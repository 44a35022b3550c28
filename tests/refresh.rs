//! Token refresh against the mock issuer: single flight, re-reading the file
//! first, rotation persisted atomically, dead logins routed around.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

fn file_json(gw: &Gateway, name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(gw.dir.path().join(format!("{name}.json"))).unwrap())
        .unwrap()
}

/// A gateway whose account "a" holds an access token expiring in `secs`.
async fn gateway_with_expiry(mock: &Mock, secs: i64, extra: &str) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    write_auth(
        &dir.path().join("a.json"),
        "a",
        &access_token("old", secs),
        "rt-original",
    );
    write_auth(
        &dir.path().join("b.json"),
        "b",
        &access_token("b", 3600),
        "rt-b",
    );
    Gateway::start_with(mock, dir, &config_text(mock, &["a", "b"], extra)).await
}

#[tokio::test]
async fn twenty_concurrent_requests_cause_exactly_one_refresh() {
    let mock = Mock::start().await;
    let gw = gateway_with_expiry(&mock, 30, "").await;
    mock.token_delay(Duration::from_millis(200));
    let old = file_json(&gw, "a")["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let mut handles = Vec::new();
    for _ in 0..20 {
        let client = gw.client();
        let url = gw.url("/v1/chat/completions");
        handles.push(tokio::spawn(async move {
            client
                .post(url)
                .header("content-type", "application/json")
                .body(chat("gpt-5.4", "hi").to_string())
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    for h in handles {
        assert_eq!(h.await.unwrap(), 200);
    }
    let calls = mock.token_calls();
    assert_eq!(calls.len(), 1, "single flight: {calls:?}");
    assert_eq!(
        calls[0],
        json!({"client_id": "app_EMoamEEZ73f0CkXaXp7hrann", "grant_type": "refresh_token", "refresh_token": "rt-original"})
    );
    // Every request used the new token.
    let new = file_json(&gw, "a")["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new, old);
    let seen = mock.responses();
    assert_eq!(seen.len(), 20);
    for s in &seen {
        assert_eq!(s.account(), "a");
        assert_eq!(s.header("authorization").unwrap(), format!("Bearer {new}"));
    }
    gw.stop().await;
}

#[tokio::test]
async fn rotation_is_persisted_atomically_with_mode_0600() {
    let mock = Mock::start().await;
    let gw = gateway_with_expiry(&mock, 30, "").await;
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
            .await
            .0,
        200
    );
    let f = file_json(&gw, "a");
    assert_eq!(f["tokens"]["refresh_token"], "rt-rotated-1");
    assert_eq!(
        f["tokens"]["account_id"], "a",
        "fields the issuer did not send are kept"
    );
    assert_ne!(f["last_refresh"], "2026-11-01T00:00:00Z");
    let mode = std::fs::metadata(gw.dir.path().join("a.json"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let leftovers: Vec<String> = std::fs::read_dir(gw.dir.path())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    gw.stop().await;
}

#[tokio::test]
async fn a_file_refreshed_by_someone_else_is_used_without_calling_the_issuer() {
    let mock = Mock::start().await;
    let gw = gateway_with_expiry(&mock, 30, "").await;
    // Another program (a Codex CLI) refreshed the login: new tokens on disk.
    let fresh = access_token("from-cli", 3600);
    write_auth(&gw.dir.path().join("a.json"), "a", &fresh, "rt-cli");
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
    gw.stop().await;
}

#[tokio::test]
async fn upstream_401_refreshes_once_and_replays() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], "").await;
    mock.script(
        "a",
        Script::Status(
            401,
            json!({"error": {"message": "expired"}}).to_string(),
            vec![],
        ),
    );
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
    gw.stop().await;
}

#[tokio::test]
async fn proactive_refresh_with_a_dead_token_marks_relogin_and_fails_over() {
    let mock = Mock::start().await;
    let gw = gateway_with_expiry(&mock, 30, "[admin]\ntoken = \"t0ken-admin\"\n").await;
    mock.token_answer(
        400,
        json!({"error": {"code": "refresh_token_expired", "message": "expired"}}),
    );
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
    let (_, text) = gw
        .get(
            "/admin/accounts",
            &[("authorization", "Bearer t0ken-admin")],
        )
        .await;
    let v: Value = serde_json::from_str(&text).unwrap();
    let a = v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "a")
        .unwrap()
        .clone();
    assert_eq!(a["state"], "needs_relogin");
    assert!(a["reason"]
        .as_str()
        .unwrap()
        .contains("refresh_token_expired"));
    let (_, scrape) = gw.get("/metrics", &[]).await;
    assert_eq!(
        metric(
            &scrape,
            "codex_pool_token_refreshes_total",
            &[("account", "a"), ("outcome", "needs_relogin")]
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &scrape,
            "codex_pool_account_state",
            &[("account", "a"), ("state", "needs_relogin")]
        ),
        Some(1.0)
    );
    gw.stop().await;
}

#[tokio::test]
async fn transient_issuer_errors_are_retried() {
    let mock = Mock::start().await;
    mock.token_answer(503, json!({"error": "temporarily_unavailable"}));
    let gw = gateway_with_expiry(&mock, 30, "").await;
    let (s, h, _) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(s, 200);
    assert_eq!(h["x-codex-pool-account"], "a");
    assert_eq!(mock.token_calls().len(), 2, "one failure, one retry");
    assert_eq!(
        file_json(&gw, "a")["tokens"]["refresh_token"],
        "rt-rotated-2"
    );
    gw.stop().await;
}

#[tokio::test]
async fn an_unsafe_token_file_is_refused_and_named() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.json");
    write_auth(&p, "a", &access_token("a", 3600), "rt");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    write_auth(
        &dir.path().join("b.json"),
        "b",
        &access_token("b", 3600),
        "rt",
    );
    let gw = Gateway::start_with(&mock, dir, &config_text(&mock, &["a", "b"], "")).await;
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
    gw.stop().await;
}

#[tokio::test]
async fn a_refresh_whose_request_is_abandoned_still_keeps_the_rotated_token() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_auth(
        &dir.path().join("a.json"),
        "a",
        &access_token("a", 3600),
        "rt-old",
    );
    let gw = Gateway::start_with(&mock, dir, &config_text(&mock, &["a"], "")).await;
    mock.token_delay(Duration::from_millis(800));
    mock.script(
        "a",
        Script::Status(
            401,
            json!({"error": {"message": "expired"}}).to_string(),
            vec![],
        ),
    );
    let impatient = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let r = impatient
        .post(gw.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(chat("gpt-5.4", "x").to_string())
        .send()
        .await;
    assert!(r.is_err(), "the client gave up during the refresh");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(mock.token_calls().len(), 1);
    assert_eq!(
        file_json(&gw, "a")["tokens"]["refresh_token"],
        "rt-rotated-1",
        "the rotated token reached the file"
    );
    gw.stop().await;
}

#[tokio::test]
async fn an_admin_refresh_after_a_new_login_revives_the_account() {
    let mock = Mock::start().await;
    mock.token_answer(400, json!({"error": {"code": "refresh_token_reused"}}));
    let gw = gateway_with_expiry(&mock, 30, "[admin]\ntoken = \"t0ken-admin\"\n").await;
    let (_, h, _) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(h["x-codex-pool-account"], "b");
    // The user logs in again; the operator asks for a refresh right away.
    write_auth(
        &gw.dir.path().join("a.json"),
        "a",
        &access_token("relogged", 3600),
        "rt-new-login",
    );
    let r = gw
        .client()
        .post(gw.url("/admin/accounts/a/refresh"))
        .header("authorization", "Bearer t0ken-admin")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let (_, h, _) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(h["x-codex-pool-account"], "a", "a serves again");
    assert_eq!(
        mock.token_calls().len(),
        1,
        "the new login was adopted, not refreshed"
    );
    gw.stop().await;
}

/// Polls `done` every 20 ms for up to 5 s.
async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..250 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done()
}

fn unauthorized() -> Script {
    Script::Status(
        401,
        json!({"error": {"message": "expired"}}).to_string(),
        vec![],
    )
}

/// One entry of `/admin/accounts` (admin token `t0ken-admin`).
async fn admin_account(gw: &Gateway, name: &str) -> Value {
    let (_, text) = gw
        .get(
            "/admin/accounts",
            &[("authorization", "Bearer t0ken-admin")],
        )
        .await;
    let v: Value = serde_json::from_str(&text).unwrap();
    v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == name)
        .unwrap_or_else(|| panic!("no account {name} in {text}"))
        .clone()
}

#[tokio::test]
async fn a_login_written_during_a_refresh_is_kept_and_used() {
    let mock = Mock::start().await;
    let gw = gateway_with_expiry(&mock, 3600, "").await;
    mock.token_delay(Duration::from_millis(1500));
    mock.script("a", unauthorized());
    let first = {
        let (client, url) = (gw.client(), gw.url("/v1/chat/completions"));
        tokio::spawn(async move {
            let r = client
                .post(url)
                .header("content-type", "application/json")
                .body(chat("gpt-5.4", "hi").to_string())
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.headers()["x-codex-pool-account"].clone(),
            )
        })
    };
    assert!(eventually(|| mock.token_calls().len() == 1).await);
    // While the issuer thinks, a new login lands in the file, without the lock
    // (`codex login` writing a Codex CLI's own file, or a copy of it).
    let newer = access_token("new-login", 3600);
    write_auth(&gw.dir.path().join("a.json"), "a", &newer, "rt-new-login");
    let (status, account) = first.await.unwrap();
    assert_eq!((status, account.to_str().unwrap()), (200, "a"));
    assert_eq!(
        file_json(&gw, "a")["tokens"]["refresh_token"],
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
    gw.stop().await;
}

#[tokio::test]
async fn a_refresh_waits_for_the_lock_of_the_file_a_symlink_points_to() {
    use codex_pool::auth::lock::FileLock;
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("real")).unwrap();
    let real = dir.path().join("real/a.json");
    write_auth(&real, "a", &access_token("a", 3600), "rt-old");
    std::os::unix::fs::symlink("real/a.json", dir.path().join("a.json")).unwrap();
    let gw = Gateway::start_with(&mock, dir, &config_text(&mock, &["a"], "")).await;
    // Another program holds the lock, having reached the file by its real path.
    let held = FileLock::acquire(&real, Duration::from_secs(1)).unwrap();
    mock.script("a", unauthorized());
    let request = {
        let (client, url) = (gw.client(), gw.url("/v1/chat/completions"));
        tokio::spawn(async move {
            client
                .post(url)
                .header("content-type", "application/json")
                .body(chat("gpt-5.4", "hi").to_string())
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    assert!(eventually(|| mock.responses().len() == 1).await);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        mock.token_calls().is_empty(),
        "the refresh did not wait for the lock"
    );
    drop(held);
    assert_eq!(request.await.unwrap(), 200);
    assert_eq!(mock.token_calls().len(), 1);
    let on_disk: Value = serde_json::from_slice(&std::fs::read(&real).unwrap()).unwrap();
    assert_eq!(on_disk["tokens"]["refresh_token"], "rt-rotated-1");
    assert!(std::fs::symlink_metadata(gw.dir.path().join("a.json"))
        .unwrap()
        .file_type()
        .is_symlink());
    gw.stop().await;
}

#[tokio::test]
async fn a_401_right_after_a_refresh_cools_the_account_and_it_comes_back() {
    let mock = Mock::start().await;
    let extra =
        "[pool]\nbackoff_base = \"1s\"\nbackoff_max = \"1s\"\n[admin]\ntoken = \"t0ken-admin\"\n";
    let gw = Gateway::start(&mock, &["a", "b"], extra).await;
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
    let a = admin_account(&gw, "a").await;
    assert_eq!(a["state"], "cooling", "{a}");
    assert_eq!(a["reason"], "auth_rejected_after_refresh");
    // Upstream takes the login again; once the cooldown is over, a probe finds out.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (s, h, _) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(s, 200);
    assert_eq!(h["x-codex-pool-account"], "a", "a serves again");
    assert_eq!(admin_account(&gw, "a").await["state"], "ready");
    assert_eq!(mock.token_calls().len(), 1, "no refresh was needed");
    gw.stop().await;
}

#[tokio::test]
async fn tokens_the_file_cannot_take_are_kept_and_shown_as_unsaved() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    // A name the lock file fits in but the save's temp file does not
    // (`.NAME.tmp-<32 hex>` passes 255 bytes): the save fails, even for root.
    let long = format!("{}.json", "a".repeat(235));
    write_auth(
        &dir.path().join(&long),
        "a",
        &access_token("a", 3600),
        "rt-old",
    );
    write_auth(
        &dir.path().join("b.json"),
        "b",
        &access_token("b", 3600),
        "rt-b",
    );
    let mut text = config_text(&mock, &[], "[admin]\ntoken = \"t0ken-admin\"\n");
    text.push_str(&format!(
        "[[accounts]]\nname = \"a\"\nauth_file = \"{long}\"\n[[accounts]]\nname = \"b\"\nauth_file = \"b.json\"\n"
    ));
    let gw = Gateway::start_with(&mock, dir, &text).await;
    let unsaved_gauge = |scrape: &str, account: &str| {
        metric(
            scrape,
            "codex_pool_account_unsaved_login",
            &[("account", account)],
        )
    };
    let (_, scrape) = gw.get("/metrics", &[]).await;
    assert_eq!(unsaved_gauge(&scrape, "a"), Some(0.0));
    assert_eq!(admin_account(&gw, "a").await["unsaved"], false);
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
        serde_json::from_slice(&std::fs::read(gw.dir.path().join(&long)).unwrap()).unwrap();
    assert_eq!(
        on_disk["tokens"]["refresh_token"], "rt-old",
        "the save failed"
    );
    let (_, scrape) = gw.get("/metrics", &[]).await;
    assert_eq!(unsaved_gauge(&scrape, "a"), Some(1.0));
    assert_eq!(unsaved_gauge(&scrape, "b"), Some(0.0));
    assert_eq!(admin_account(&gw, "a").await["unsaved"], true);
    assert_eq!(admin_account(&gw, "b").await["unsaved"], false);
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
    gw.stop().await;
}

#[tokio::test]
async fn shutdown_waits_for_a_refresh_in_flight_to_write_its_token() {
    let mock = Mock::start().await;
    let gw = gateway_with_expiry(&mock, 3600, "").await;
    mock.token_delay(Duration::from_millis(1500));
    mock.script("a", unauthorized());
    let impatient = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let r = impatient
        .post(gw.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(chat("gpt-5.4", "x").to_string())
        .send()
        .await;
    assert!(r.is_err(), "the client gave up during the refresh");
    assert_eq!(mock.token_calls().len(), 1, "the issuer is answering");
    // Nothing is left to drain: only the refresh's own task still runs.
    let dir = gw.stop_keeping_dir().await;
    let on_disk: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("a.json")).unwrap()).unwrap();
    assert_eq!(
        on_disk["tokens"]["refresh_token"], "rt-rotated-1",
        "the gateway stopped before the rotated token reached the file"
    );
}
