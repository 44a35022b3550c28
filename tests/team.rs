//! The team gateway: client keys, per-key limits and scopes, hot reload,
//! graceful shutdown, refusing to start open on a public address.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const KEYS: &str = r#"
[admin]
token = "admin-secret"
[[api_keys]]
name = "alice"
key = "sk-alice-123456"
[[api_keys]]
name = "bob"
key_sha256 = "HASH_BOB"
strategy = "round_robin"
[[api_keys]]
name = "carol"
key = "sk-carol-123456"
accounts = ["b"]
requests_per_minute = 2
models = ["gpt-5.4"]
"#;

fn keys_config() -> String {
    KEYS.replace("HASH_BOB", &hex::encode(Sha256::digest(b"sk-bob-123456")))
}

async fn ask_as(gw: &Gateway, key: &str, model: &str) -> (u16, reqwest::header::HeaderMap, String) {
    gw.post_with(
        "/v1/chat/completions",
        &chat(model, "hi"),
        &[("authorization", &format!("Bearer {key}"))],
    )
    .await
}

#[tokio::test]
async fn keys_none_wrong_right_and_hashed() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], &keys_config()).await;
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
    gw.stop().await;
}

#[tokio::test]
async fn rate_limit_scope_and_model_allow_list() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], &keys_config()).await;
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
    gw.stop().await;
}

#[tokio::test]
async fn a_scoped_key_never_fails_over_outside_its_accounts() {
    let mock = Mock::start().await;
    let extra = "[[api_keys]]\nname = \"erin\"\nkey = \"sk-erin-1\"\naccounts = [\"b\"]\n";
    let gw = Gateway::start(&mock, &["a", "b"], extra).await;
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
    gw.stop().await;
}

#[tokio::test]
async fn per_key_strategy_override() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], &keys_config()).await;
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
    let (_, text) = gw
        .get(
            "/admin/pool/activity",
            &[("authorization", "Bearer admin-secret")],
        )
        .await;
    let v: Value = serde_json::from_str(&text).unwrap();
    let d = &v["decisions"][0];
    assert_eq!(d["api_key"], "alice");
    assert_eq!(d["strategy"], "primary_first");
    assert_eq!(v["decisions"][3]["strategy"], "round_robin");
    gw.stop().await;
}

#[tokio::test]
async fn token_budget_counts_upstream_usage() {
    let mock = Mock::start().await;
    let extra = "[[api_keys]]\nname = \"dave\"\nkey = \"sk-dave-123456\"\ntokens_per_hour = 50\n";
    let gw = Gateway::start(&mock, &["a"], extra).await;
    assert_eq!(ask_as(&gw, "sk-dave-123456", "gpt-5.4").await.0, 200); // 30 tokens
    assert_eq!(ask_as(&gw, "sk-dave-123456", "gpt-5.4").await.0, 200); // 60 tokens
    let (s, h, text) = ask_as(&gw, "sk-dave-123456", "gpt-5.4").await;
    assert_eq!(s, 429, "{text}");
    assert!(text.contains("budget_exceeded"));
    assert!(h.contains_key("retry-after"));
    assert_eq!(mock.responses().len(), 2);
    gw.stop().await;
}

#[tokio::test]
async fn reload_under_a_running_stream() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], "[admin]\ntoken = \"admin-secret\"\n").await;
    let events = mock::text_events("gpt-5.4", &["one", " two", " three", " four", " five"]);
    mock.script("a", Script::Slow(events, Duration::from_millis(120)));
    let client = gw.client();
    let url = gw.url("/v1/chat/completions");
    let mut body = chat("gpt-5.4", "long");
    body["stream"] = json!(true);
    let stream = tokio::spawn(async move {
        let r = client
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        r.text().await.unwrap()
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // New config: b first, and a client key appears.
    let new = config_text(
        &mock,
        &["b", "a"],
        "[admin]\ntoken = \"admin-secret\"\n[[api_keys]]\nname = \"k\"\nkey = \"sk-new-key-123\"\n",
    );
    std::fs::write(&gw.config_path, new).unwrap();
    let r = gw
        .client()
        .post(gw.url("/admin/reload"))
        .header("authorization", "Bearer admin-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let text = stream.await.unwrap();
    let content: String = sse_data(&text)
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(
        content, "one two three four five",
        "the stream finished on its snapshot"
    );
    assert!(text.contains("[DONE]"));
    // The next request sees the new config: a key is now required, and b is primary.
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("gpt-5.4", "x"))
            .await
            .0,
        401
    );
    let (s, h, _) = ask_as(&gw, "sk-new-key-123", "gpt-5.4").await;
    assert_eq!(s, 200);
    assert_eq!(h["x-codex-pool-account"], "b");
    gw.stop().await;
}

#[tokio::test]
async fn invalid_reload_keeps_the_old_config_and_reports_every_problem() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a"], "[admin]\ntoken = \"admin-secret\"\n").await;
    std::fs::write(
        &gw.config_path,
        "[pool]\nstrategy = \"random\"\n[server]\ncolour = 1\n",
    )
    .unwrap();
    let r = gw
        .client()
        .post(gw.url("/admin/reload"))
        .header("authorization", "Bearer admin-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(v["error"]["code"], "invalid_config");
    let keys: Vec<&str> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&"pool.strategy") && keys.contains(&"server.colour"),
        "{keys:?}"
    );
    // Still serving with the old config (no keys, account a).
    let (s, h, _) = gw.post("/v1/chat/completions", &chat("gpt-5.4", "x")).await;
    assert_eq!(s, 200);
    assert_eq!(h["x-codex-pool-account"], "a");
    let (_, scrape) = gw.get("/metrics", &[]).await;
    assert!(
        metric(
            &scrape,
            "codex_pool_config_reloads_total",
            &[("outcome", "invalid")]
        )
        .unwrap()
            >= 1.0
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_changed_file_is_reloaded_by_the_watcher() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], "").await;
    tokio::time::sleep(Duration::from_millis(200)).await; // the watcher is up
    std::fs::write(&gw.config_path, config_text(&mock, &["a", "b"], "[pool]\nstrategy = \"round_robin\"\n[[api_keys]]\nname = \"w\"\nkey = \"sk-watch-1234\"\n")).unwrap();
    let mut reloaded = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if gw
            .post("/v1/chat/completions", &chat("gpt-5.4", "x"))
            .await
            .0
            == 401
        {
            reloaded = true;
            break;
        }
    }
    assert!(reloaded, "the file change was not picked up");
    assert_eq!(ask_as(&gw, "sk-watch-1234", "gpt-5.4").await.0, 200);
    gw.stop().await;
}

#[tokio::test]
async fn account_state_survives_a_reload() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], "[admin]\ntoken = \"admin-secret\"\n").await;
    mock.script(
        "a",
        Script::Status(
            429,
            json!({"error": {"type": "usage_limit_reached", "resets_at": now() + 3600}})
                .to_string(),
            vec![],
        ),
    );
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("gpt-5.4", "x"))
            .await
            .1["x-codex-pool-account"],
        "b"
    );
    let r = gw
        .client()
        .post(gw.url("/admin/reload"))
        .header("authorization", "Bearer admin-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("gpt-5.4", "x"))
            .await
            .1["x-codex-pool-account"],
        "b",
        "a is still cooling"
    );
    assert_eq!(mock.accounts_hit(), ["a", "b", "b"]);
    gw.stop().await;
}

#[tokio::test]
async fn non_loopback_without_keys_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, "[server]\nlisten = \"0.0.0.0:0\"\n").unwrap();
    let out = std::process::Command::new(binary())
        .args(["serve", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("server.listen") && err.contains("api_keys") && err.contains("keys new"),
        "{err}"
    );
    let out = std::process::Command::new(binary())
        .args(["check-config", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[tokio::test]
async fn keys_new_prints_a_key_and_its_hash() {
    let out = std::process::Command::new(binary())
        .args(["keys", "new", "alice"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let key = text.lines().find(|l| l.starts_with("sk-pool-")).unwrap();
    let hash = hex::encode(Sha256::digest(key.as_bytes()));
    assert!(text.contains(&format!("key_sha256 = \"{hash}\"")), "{text}");
    assert!(text.contains("name = \"alice\""));
    // The stanza is valid config.
    let stanza: String = text
        .lines()
        .skip_while(|l| !l.starts_with("[[api_keys]]"))
        .collect::<Vec<_>>()
        .join("\n");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, &stanza).unwrap();
    assert!(codex_pool::config::Config::load(&cfg).is_ok());
}

#[tokio::test]
async fn sigterm_drains_a_stream_then_exits_zero() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_auth(
        &dir.path().join("a.json"),
        "a",
        &access_token("a", 3600),
        "rt",
    );
    let port = free_port();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\nshutdown_grace = \"10s\"\n{}",
            config_text(&mock, &["a"], "")
        ),
    )
    .unwrap();
    let mut child = tokio::process::Command::new(binary())
        .args(["serve", "--config"])
        .arg(&cfg)
        .spawn()
        .unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    assert!(wait_healthy(port).await);
    let events = mock::text_events("gpt-5.4", &["a", "b", "c", "d", "e", "f"]);
    mock.script("a", Script::Slow(events, Duration::from_millis(150)));
    let mut body = chat("gpt-5.4", "x");
    body["stream"] = json!(true);
    let c2 = client.clone();
    let url = format!("{base}/v1/chat/completions");
    let stream = tokio::spawn(async move {
        c2.post(url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let text = stream.await.unwrap();
    let content: String = sse_data(&text)
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(
        content, "abcdef",
        "the in-flight stream was drained, not cut"
    );
    assert!(text.contains("[DONE]"));
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status:?}");
    assert!(
        client.get(format!("{base}/healthz")).send().await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn reload_names_the_keys_that_wait_for_a_restart() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a"], "[admin]\ntoken = \"admin-secret\"\n").await;
    let text = config_text(
        &mock,
        &["a"],
        "[admin]\ntoken = \"admin-secret\"\n[server]\nmax_inflight = 7\nmax_inflight_body_bytes = 99999999\n[log]\nlevel = \"debug\"\n",
    );
    std::fs::write(&gw.config_path, text).unwrap();
    let r = gw
        .client()
        .post(gw.url("/admin/reload"))
        .header("authorization", "Bearer admin-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(
        v["restart_required"],
        json!([
            "server.max_inflight",
            "server.max_inflight_body_bytes",
            "log.level"
        ])
    );
    gw.stop().await;
}

#[tokio::test]
async fn names_are_free_form_and_short_keys_work() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_auth(
        &dir.path().join("w.json"),
        "w",
        &access_token("w", 3600),
        "rt",
    );
    let text = format!(
        "{}[[accounts]]\nname = \"work account\"\nauth_file = \"w.json\"\n[[api_keys]]\nname = \"dev team\"\nkey = \"k1\"\n[admin]\ntoken = \"adm\"\n",
        config_text(&mock, &[], "")
    );
    let gw = Gateway::start_with(&mock, dir, &text).await;
    let (s, h, _) = ask_as(&gw, "k1", "gpt-5.4").await;
    assert_eq!(s, 200);
    assert_eq!(h["x-codex-pool-account"], "work account");
    let r = gw
        .client()
        .post(gw.url("/admin/accounts/work%20account/disable"))
        .header("authorization", "Bearer adm")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(ask_as(&gw, "k1", "gpt-5.4").await.0, 503);
    gw.stop().await;
}

#[tokio::test]
async fn sighup_reloads_the_config() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_auth(
        &dir.path().join("a.json"),
        "a",
        &access_token("a", 3600),
        "rt",
    );
    let port = free_port();
    let cfg = dir.path().join("config.toml");
    let base = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n{}",
        config_text(&mock, &["a"], "")
    );
    std::fs::write(&cfg, &base).unwrap();
    let mut child = tokio::process::Command::new(binary())
        .args(["serve", "--config"])
        .arg(&cfg)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("http://127.0.0.1:{port}/v1/chat/completions");
    let post = |key: Option<&'static str>| {
        let mut req = client
            .post(url.clone())
            .header("content-type", "application/json")
            .body(chat("gpt-5.4", "x").to_string());
        if let Some(k) = key {
            req = req.header("authorization", format!("Bearer {k}"));
        }
        req.send()
    };
    assert!(wait_healthy(port).await);
    assert_eq!(post(None).await.unwrap().status(), 200);
    // Nothing changed on disk, so only SIGHUP can have made this reload.
    let reloads = || async {
        let text = client
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        metric(
            &text,
            "codex_pool_config_reloads_total",
            &[("outcome", "ok")],
        )
        .unwrap_or(0.0)
    };
    assert_eq!(reloads().await, 0.0);
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    let mut reloaded = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if reloads().await == 1.0 {
            reloaded = true;
            break;
        }
    }
    assert!(reloaded, "SIGHUP did not reload");
    assert_eq!(post(None).await.unwrap().status(), 200);
    assert!(
        child.try_wait().unwrap().is_none(),
        "SIGHUP must not end the process"
    );
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    let _ = child.wait().await;
}
