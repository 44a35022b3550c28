//! Client keys: none, wrong, right, hashed; a key's rate, account scope,
//! model allow-list and strategy; free-form names and short keys. (Token
//! budgets, in one gateway and across replicas: `replicas/rates.rs`.)

use serde_json::Value;

use crate::support::*;

/// Accounts `a` and `b` and three keys: `alice`; `bob`, stored as a digest,
/// with its own strategy; `carol`, scoped to `b`, 2 a minute, one model.
fn team(mock: &Mock) -> Builder {
    Gateway::builder(mock)
        .accounts(&["a", "b"])
        .admin(ADMIN)
        .key("alice", |k| k)
        .key("bob", |k| {
            k.sha256_of("sk-bob-123456").strategy("round_robin")
        })
        .key("carol", |k| k.accounts(&["b"]).rpm(2).models(&["gpt-5.4"]))
}

async fn ask_as(gw: &Gateway, key: &str, model: &str) -> (u16, reqwest::header::HeaderMap, String) {
    gw.post_as(key, "/v1/chat/completions", &chat(model, "hi"))
        .await
}

#[tokio::test]
async fn keys_none_wrong_right_and_hashed() {
    let mock = Mock::start().await;
    let gw = team(&mock).start().await;
    let (s, _, text) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(s, 401, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["error"]["type"], "authentication_error");
    assert_eq!(ask_as(&gw, "sk-wrong-000000", "gpt-5.4").await.0, 401);
    assert!(
        mock.responses().is_empty(),
        "no upstream call without a valid key"
    );
    assert_eq!(ask_as(&gw, "sk-alice-123456", "gpt-5.4").await.0, 200);
    assert_eq!(
        ask_as(&gw, "sk-bob-123456", "gpt-5.4").await.0,
        200,
        "hashed key"
    );
    let (s, _, _) = gw
        .post_with(
            "/v1/chat/completions",
            &chat("gpt-5.4", "hi"),
            &[("x-api-key", "sk-alice-123456")],
        )
        .await;
    assert_eq!(s, 200, "x-api-key works too");
    // The client's key never reaches upstream.
    for seen in mock.responses() {
        let auth = seen.header("authorization").unwrap();
        assert!(
            !auth.contains("sk-alice") && !auth.contains("sk-bob"),
            "{auth}"
        );
        assert!(seen.headers.values().all(|v| !v.contains("sk-alice")));
    }
    assert_eq!(gw.get("/v1/models", &[]).await.0, 401);
    assert_eq!(
        gw.get("/v1/models", &[("authorization", "Bearer sk-alice-123456")])
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn rate_limit_scope_and_model_allow_list() {
    let mock = Mock::start().await;
    let gw = team(&mock).start().await;
    let (s, h, _) = ask_as(&gw, "sk-carol-123456", "gpt-5.4").await;
    assert_eq!(s, 200);
    assert_eq!(h["x-codex-pool-account"], "b", "carol may only use b");
    let (s, _, text) = ask_as(&gw, "sk-carol-123456", "o3").await;
    assert_eq!(s, 403, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["error"]["code"], "model_not_allowed");
    assert!(v["error"]["message"].as_str().unwrap().contains("gpt-5.4"));
    // The refused model counted: the rate is spent at admission, before the
    // body (and so the model) is read.
    let (s, h, text) = ask_as(&gw, "sk-carol-123456", "gpt-5.4").await;
    assert_eq!(s, 429, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["error"]["code"], "rate_limited");
    let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(mock.accounts_hit(), ["b"]);
    // Others are not affected by carol's limit.
    assert_eq!(ask_as(&gw, "sk-alice-123456", "gpt-5.4").await.0, 200);
    let (_, scrape) = gw.get("/metrics", &[]).await;
    assert_eq!(
        metric(
            &scrape,
            "codex_pool_client_rate_limited_total",
            &[("api_key", "carol")]
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn a_scoped_key_never_fails_over_outside_its_accounts() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .accounts(&["a", "b"])
        .key("erin", |k| k.secret("sk-erin-1").accounts(&["b"]))
        .start()
        .await;
    mock.script("b", Script::Status(500, "x".into(), vec![]));
    let (s, _, text) = ask_as(&gw, "sk-erin-1", "gpt-5.4").await;
    assert_eq!(s, 503, "{text}");
    assert!(
        text.contains("pool_exhausted") && text.contains("b:"),
        "{text}"
    );
    assert_eq!(
        mock.accounts_hit(),
        ["b"],
        "a is outside erin's scope, even when b fails"
    );
}

#[tokio::test]
async fn per_key_strategy_override() {
    let mock = Mock::start().await;
    let gw = team(&mock).start().await;
    // Four new conversations (one conversation would stay on its account).
    for i in 0..4 {
        let body = chat("gpt-5.4", &format!("question {i}"));
        let key = [("authorization", "Bearer sk-bob-123456")];
        assert_eq!(
            gw.post_with("/v1/chat/completions", &body, &key).await.0,
            200
        );
    }
    for _ in 0..2 {
        assert_eq!(ask_as(&gw, "sk-alice-123456", "gpt-5.4").await.0, 200);
    }
    let hits = mock.accounts_hit();
    let bob = &hits[..4];
    assert_eq!(
        bob.iter().filter(|h| *h == "a").count(),
        2,
        "bob round-robins: {bob:?}"
    );
    assert_eq!(
        &hits[4..],
        ["a", "a"],
        "alice uses the pool's primary_first"
    );
    let decisions = gw.activity().await;
    let d = &decisions[0];
    assert_eq!(d["api_key"], "alice");
    assert_eq!(d["strategy"], "primary_first");
    assert_eq!(decisions[3]["strategy"], "round_robin");
}

#[tokio::test]
async fn names_are_free_form_and_short_keys_work() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .account("work account")
        .auth_file("w.json")
        .login(Login::default().account_id("w"))
        .key("dev team", |k| k.secret("k1"))
        .admin("adm")
        .start()
        .await;
    let (s, h, _) = ask_as(&gw, "k1", "gpt-5.4").await;
    assert_eq!(s, 200);
    assert_eq!(h["x-codex-pool-account"], "work account");
    let (status, text) = gw
        .admin_post("/admin/accounts/work%20account/disable")
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(ask_as(&gw, "k1", "gpt-5.4").await.0, 503);
}
