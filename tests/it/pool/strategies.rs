//! How the pool picks: `primary_first`, `round_robin`, `priority_order`, and
//! the admin API steering it.

use crate::support::*;

use super::ask;

#[tokio::test]
async fn primary_first_sticks_to_the_first_account() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .accounts(&["a", "b", "c"])
        .toml("[pool]\nstrategy = \"primary_first\"")
        .start()
        .await;
    for _ in 0..4 {
        let (s, h, _) = ask(&gw).await;
        assert_eq!(s, 200);
        assert_eq!(h["x-codex-pool-account"], "a");
    }
    assert_eq!(mock.accounts_hit(), ["a", "a", "a", "a"]);
}

#[tokio::test]
async fn round_robin_rotates_evenly() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .accounts(&["a", "b", "c"])
        .toml("[pool]\nstrategy = \"round_robin\"")
        .start()
        .await;
    // Six new conversations (a conversation itself stays on its account:
    // see `pool/affinity.rs`).
    for i in 0..6 {
        let body = chat("gpt-5.4", &format!("conversation {i}"));
        assert_eq!(gw.post("/v1/chat/completions", &body).await.0, 200);
    }
    let hits = mock.accounts_hit();
    for name in ["a", "b", "c"] {
        assert_eq!(hits.iter().filter(|h| *h == name).count(), 2, "{hits:?}");
    }
    assert_eq!(&hits[..3], &hits[3..], "rotation order is stable: {hits:?}");
}

#[tokio::test]
async fn priority_order_tries_lower_numbers_first_then_fails_over_in_order() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .account("a")
        .priority(3)
        .account("b")
        .priority(1)
        .account("c")
        .priority(2)
        .toml("[pool]\nstrategy = \"priority_order\"")
        .start()
        .await;
    assert_eq!(ask(&gw).await.1["x-codex-pool-account"], "b");
    mock.script("b", Script::Status(503, "{}".into(), vec![]));
    let (s, h, _) = ask(&gw).await;
    assert_eq!(s, 200);
    assert_eq!(h["x-codex-pool-account"], "c");
    assert_eq!(mock.accounts_hit(), ["b", "b", "c"]);
}

#[tokio::test]
async fn admin_disable_and_enable_steer_the_pool() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .accounts(&["a", "b"])
        .admin(ADMIN)
        .start()
        .await;
    assert_eq!(gw.admin_post("/admin/accounts/a/disable").await.0, 200);
    assert_eq!(ask(&gw).await.1["x-codex-pool-account"], "b");
    assert_eq!(gw.account("a").await["state"], "disabled");
    assert_eq!(gw.admin_post("/admin/accounts/a/enable").await.0, 200);
    assert_eq!(ask(&gw).await.1["x-codex-pool-account"], "a");
    assert_eq!(gw.admin_get("/admin/accounts/zzz/disable").await.0, 405);
}

#[tokio::test]
async fn admin_is_not_served_without_a_token() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
    assert_eq!(
        gw.get("/admin/accounts", &[("authorization", "Bearer x")])
            .await
            .0,
        404
    );
}
