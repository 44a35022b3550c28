//! Logins: a login about to expire is refreshed once for every request at
//! every door (single flight in one gateway, the shared lock across
//! replicas), and no token reaches Redis in clear; a new login in one
//! replica's file, or imported while that replica is down, reaches the other
//! through the store.

use std::time::Duration;

use serde_json::json;

use crate::support::*;

use super::{bearers, chat_as};

on_both! {
    async fn twenty_requests_on_an_expiring_login_cause_exactly_one_refresh(d) {
        let mock = Mock::start().await;
        mock.token_delay(Duration::from_millis(300));
        let old = access_token("old", 30);
        let b = Gateway::builder(&mock)
            .account("a")
            .login(Login::token(&old).refresh_token("rt-original"))
            .account("b");
        let gws = d.start(b).await;
        let requests: Vec<_> = (0..20)
            .map(|i| gws.door(i).post_later("/v1/chat/completions", &chat("gpt-5.4", "hi")))
            .collect();
        for r in requests {
            assert_eq!(r.await.unwrap().0, 200);
        }
        let calls = mock.token_calls();
        assert_eq!(
            calls.len(),
            1,
            "one issuer call for every door: {calls:?}\n{}",
            gws.logs()
        );
        assert_eq!(
            calls[0],
            json!({"client_id": "app_EMoamEEZ73f0CkXaXp7hrann", "grant_type": "refresh_token", "refresh_token": "rt-original"})
        );
        // Every request went to a, with the new token.
        let seen = mock.responses();
        assert_eq!(seen.len(), 20);
        let new = seen[0].header("authorization").unwrap().to_string();
        assert_ne!(new, format!("Bearer {old}"));
        for s in &seen {
            assert_eq!(s.account(), "a");
            assert_eq!(s.header("authorization"), Some(new.as_str()));
        }
        // The refreshing gateway's file took the rotated login.
        let files: Vec<_> = gws.gateways.iter().map(|g| g.auth_json("a")).collect();
        assert!(
            files.iter().any(|f| f["tokens"]["refresh_token"] == "rt-rotated-1"
                && format!("Bearer {}", f["tokens"]["access_token"].as_str().unwrap()) == new),
            "{files:?}"
        );
        // No token, in whole or as a JWT part, is stored in Redis in clear.
        if let Some(redis) = &gws.redis {
            let new_token = new.trim_start_matches("Bearer ").to_string();
            let dump = redis.dump().await;
            assert!(
                dump.iter().any(|(k, _)| k == "codex-pool:tokens:a"),
                "{:?}",
                dump.iter().map(|d| &d.0).collect::<Vec<_>>()
            );
            for (k, v) in &dump {
                for secret in ["rt-original", "rt-rotated-1", old.as_str(), new_token.as_str()] {
                    let parts: Vec<&str> = secret.split('.').filter(|p| p.len() > 8).collect();
                    for p in std::iter::once(secret).chain(parts) {
                        assert!(
                            !v.windows(p.len()).any(|w| w == p.as_bytes()),
                            "{k} holds token bytes in clear"
                        );
                    }
                }
            }
        }
    }
}

/// Two replicas, one login `a` (token valid for an hour, refresh `rt-a`).
async fn replicas(mock: &Mock) -> (Deployed, String) {
    let token = access_token("a", 3600);
    let b = Gateway::builder(mock)
        .account("a")
        .login(Login::token(&token).refresh_token("rt-a"));
    (Deployment::Replicas.start(b).await, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_login_in_one_replicas_file_replaces_the_stores_for_both() {
    let mock = Mock::start().await;
    let (gws, _) = replicas(&mock).await;
    assert_eq!(chat_as(gws.door(0), "").await.0, 200);
    let fresh = access_token("relogged", 3600);
    gws.door(1)
        .write_login("a", Login::token(&fresh).refresh_token("rt-relogged"));
    let want = [format!("Bearer {fresh}")];
    eventually!(
        {
            let before = mock.responses().len();
            assert_eq!(chat_as(gws.door(0), "").await.0, 200);
            bearers(&mock)[before..] == want
        },
        "the first replica never used the login written to the second's file"
    );
    assert!(mock.token_calls().is_empty());
    // The first keeps its file in step with the store.
    eventually!(
        gws.door(0).auth_json("a")["tokens"]["refresh_token"] == "rt-relogged",
        "the first replica's auth file did not take the store's login"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_writes_the_new_login_to_the_store() {
    let mock = Mock::start().await;
    let (mut gws, _) = replicas(&mock).await;
    assert_eq!(chat_as(gws.door(1), "").await.0, 200);
    // The first is stopped: only the store can carry the login to the second.
    let config = gws.door(0).config_path.clone();
    gws.gateways[0]
        .process()
        .stop(Duration::from_secs(10))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let fresh = access_token("imported", 3600);
    let src = dir.path().join("auth.json");
    write_auth(&src, "a", &fresh, "rt-imported");
    let out = cli::output(
        cli::command(&["import", "--config"])
            .arg(&config)
            .args(["--account", "a"])
            .arg(&src),
    );
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stdout.contains("shared store"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    let want = [format!("Bearer {fresh}")];
    eventually!(
        {
            let before = mock.responses().len();
            assert_eq!(chat_as(gws.door(1), "").await.0, 200);
            bearers(&mock)[before..] == want
        },
        "the second replica never used the imported login"
    );
}
