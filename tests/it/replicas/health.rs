//! Account health across doors, and the store's own: a usage limit one door
//! saw is honoured by the other without a try; replicas ride out Redis going
//! away (serving, degraded, no refresh without the shared lock) and coming
//! back empty; a TLS URL to a plain server fails without panicking.

use std::time::Duration;

use serde_json::Value;

use crate::support::redis_server::Redis;
use crate::support::*;

use super::{bearers, chat_as};

on_both! {
    async fn a_usage_limit_seen_at_one_door_is_honoured_at_the_other_without_a_try(d) {
        let mock = Mock::start().await;
        let b = Gateway::builder(&mock).accounts(&["a", "b"]).admin(ADMIN);
        let gws = d.start(b).await;
        mock.script("a", usage_limit(3600));
        assert_eq!(chat_as(gws.door(0), "").await.0, 200);
        assert_eq!(mock.accounts_hit(), ["a", "b"], "a tried, then b");
        // The other door learns it (through the store, with replicas).
        eventually!(
            gws.door(1).account("a").await["state"] == "cooling",
            "a never cooled at the other door:\n{}",
            gws.logs()
        );
        for _ in 0..3 {
            assert_eq!(chat_as(gws.door(1), "").await.0, 200);
        }
        assert_eq!(
            mock.accounts_hit(),
            ["a", "b", "b", "b", "b"],
            "the other door never tried a"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_keep_serving_through_a_redis_restart_and_refresh_only_under_the_lock() {
    let mock = Mock::start().await;
    let token = access_token("a", 3600);
    let b = Gateway::builder(&mock)
        .account("a")
        .login(Login::token(&token).refresh_token("rt-a"))
        .admin(ADMIN);
    let mut gws = Deployment::Replicas.start(b).await;
    let store_up = |s: &str| metric(s, STORE_UP, &[("backend", "redis")]);
    assert_eq!(chat_as(gws.door(0), "").await.0, 200);
    assert_eq!(chat_as(gws.door(1), "").await.0, 200);

    gws.redis.as_mut().unwrap().stop();
    gws.door(0)
        .scrape_until("the store down", |s| store_up(s) == Some(0.0))
        .await;
    // Both serve on with the still-valid token...
    for _ in 0..3 {
        assert_eq!(chat_as(gws.door(0), "").await.0, 200);
        assert_eq!(chat_as(gws.door(1), "").await.0, 200);
    }
    let (ready, body) = gws.door(0).get("/readyz", &[]).await;
    assert_eq!(ready, 200, "{body}");
    assert!(body.contains("degraded"), "{body}");
    // ...and no refresh happens without the shared lock.
    assert_ne!(
        gws.door(0).admin_post("/admin/accounts/a/refresh").await.0,
        200
    );
    let (_, accounts) = gws.door(0).admin_get("/admin/accounts").await;
    assert!(accounts.contains("store unavailable"), "{accounts}");
    assert!(
        mock.token_calls().is_empty(),
        "the issuer was called without the lock"
    );

    // Redis comes back empty (no persistence): the replicas seed it again
    // from their files, and a refresh works once, for both.
    gws.redis.as_mut().unwrap().restart().await;
    gws.door(0).store_up().await;
    let redis = gws.redis.as_ref().unwrap();
    eventually!(
        redis
            .dump()
            .await
            .iter()
            .any(|(k, _)| k == "codex-pool:tokens:a"),
        "the store was not seeded again"
    );
    // The account cooled after the failed refresh; make it serve again.
    assert_eq!(
        gws.door(0).admin_post("/admin/accounts/a/enable").await.0,
        200
    );
    let (status, text) = gws.door(0).admin_post("/admin/accounts/a/refresh").await;
    assert_eq!(status, 200, "{text}\n{}", gws.logs());
    assert_eq!(mock.token_calls().len(), 1);
    assert_eq!(mock.token_calls()[0]["refresh_token"], "rt-a");
    // The other replica picks the rotated login up from the store without
    // calling the issuer. (It may still hold the cooldown the first shared,
    // until that one's enable reaches it.)
    let old = format!("Bearer {token}");
    eventually!(
        {
            let before = mock.responses().len();
            chat_as(gws.door(1), "").await.0 == 200
                && bearers(&mock)[before..].iter().all(|b| *b != old)
        },
        "the other replica never used the rotated token"
    );
    assert_eq!(mock.token_calls().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_to_a_server_without_tls_fails_without_panicking() {
    let redis = Redis::start().await;
    let mock = Mock::start().await;
    let keys = tempfile::tempdir().unwrap();
    let url = format!("rediss://127.0.0.1:{}/0", redis.port);
    let gw = Gateway::builder(&mock)
        .account("a")
        .store(&url, &cli::store_key(keys.path()))
        .spawn()
        .await;
    let store_up = |s: &str| metric(s, STORE_UP, &[("backend", "redis")]);
    gw.scrape_until("a store ping", |s| store_up(s) == Some(0.0))
        .await;
    // A few more pings (every 250 ms while down): a TLS handshake with a
    // plain server cannot succeed, and must not panic.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(store_up(&gw.scrape().await), Some(0.0));
    let (ready, body) = gw.get("/readyz", &[]).await;
    assert_eq!(ready, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(body.contains("degraded"), "{v}");
    assert_eq!(chat_as(&gw, "").await.0, 200, "serving from what it knows");
    let log = gw.log();
    assert!(!log.contains("panicked"), "{log}");
}
