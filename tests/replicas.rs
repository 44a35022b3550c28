//! Two gateway processes (the real binary) on one real Redis (`[store]`):
//! they refresh a login once between them, keep token bytes out of Redis,
//! and ride out Redis going away and coming back.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;
#[path = "common/redis.rs"]
mod redis_server;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use redis_server::Redis;
use serde_json::Value;

const ADMIN: &str = "adm-replica-test-token";

/// One gateway process with its own folder (config, auth files, log).
struct Replica {
    port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl Replica {
    /// Starts a replica whose accounts are `(name, access token, refresh token)`.
    async fn start(
        mock: &Mock,
        redis: &Redis,
        key: &Path,
        accounts: &[(&str, &str, &str)],
        extra: &str,
    ) -> Replica {
        let dir = tempfile::tempdir().unwrap();
        for (name, access, refresh) in accounts {
            write_auth(
                &dir.path().join(format!("{name}.json")),
                name,
                access,
                refresh,
            );
        }
        let port = free_port();
        let names: Vec<&str> = accounts.iter().map(|a| a.0).collect();
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n[store]\nredis_url = \"{}\"\nencryption_key_file = \"{}\"\n[admin]\ntoken = \"{ADMIN}\"\n{extra}\n{}",
            redis.url(),
            key.display(),
            config_text(mock, &names, "")
        );
        let config = dir.path().join("config.toml");
        std::fs::write(&config, text).unwrap();
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        let child = Command::new(binary())
            .args(["serve", "--config"])
            .arg(&config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        assert!(wait_healthy(port).await, "replica did not start");
        Replica { port, child, dir }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    async fn chat(&self) -> (u16, String) {
        self.chat_as("").await
    }

    async fn chat_as(&self, key: &str) -> (u16, String) {
        let mut req = client().post(self.url("/v1/chat/completions"));
        if !key.is_empty() {
            req = req.bearer_auth(key);
        }
        let resp = req
            .header("content-type", "application/json")
            .body(chat("gpt-5.4", "hi").to_string())
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    async fn admin_refresh(&self, account: &str) -> u16 {
        client()
            .post(self.url(&format!("/admin/accounts/{account}/refresh")))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn admin_get(&self, path: &str) -> (u16, String) {
        let resp = client()
            .get(self.url(path))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let resp = client().get(self.url(path)).send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    fn file(&self, account: &str) -> Value {
        serde_json::from_slice(
            &std::fs::read(self.dir.path().join(format!("{account}.json"))).unwrap(),
        )
        .unwrap()
    }
}

impl Replica {
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.stop();
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// A store key file (mode 0600) in `dir`.
fn key_file(dir: &Path) -> PathBuf {
    let out = Command::new(binary()).arg("store-key").output().unwrap();
    assert!(out.status.success());
    let p = dir.join("store.key");
    std::fs::write(&p, &out.stdout).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

/// The access tokens the mock upstream saw, in order.
fn bearers(mock: &Mock) -> Vec<String> {
    mock.responses()
        .iter()
        .map(|s| s.header("authorization").unwrap_or("").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_refresh_an_expiring_login_once_and_keep_tokens_out_of_redis() {
    let redis = Redis::start().await;
    let mock = Mock::start().await;
    mock.token_delay(Duration::from_millis(300));
    let keys = tempfile::tempdir().unwrap();
    let key = key_file(keys.path());
    let old = access_token("old", 30);
    let login = [("a", old.as_str(), "rt-original")];
    let r1 = Replica::start(&mock, &redis, &key, &login, "").await;
    let r2 = Replica::start(&mock, &redis, &key, &login, "").await;
    let mut handles = Vec::new();
    for i in 0..20 {
        let url = if i % 2 == 0 { r1.url("") } else { r2.url("") };
        handles.push(tokio::spawn(async move {
            let resp = client()
                .post(format!("{url}/v1/chat/completions"))
                .header("content-type", "application/json")
                .body(chat("gpt-5.4", "hi").to_string())
                .send()
                .await
                .unwrap();
            resp.status().as_u16()
        }));
    }
    for h in handles {
        assert_eq!(h.await.unwrap(), 200);
    }
    let calls = mock.token_calls();
    assert_eq!(
        calls.len(),
        1,
        "one issuer call for both replicas: {calls:?}\n--- r1:\n{}\n--- r2:\n{}",
        r1.log(),
        r2.log()
    );
    assert_eq!(calls[0]["refresh_token"], "rt-original");
    let seen = bearers(&mock);
    assert_eq!(seen.len(), 20);
    let new = format!("Bearer {}", seen[0].trim_start_matches("Bearer "));
    assert_ne!(new, format!("Bearer {old}"));
    assert!(
        seen.iter().all(|b| *b == new),
        "every request used the refreshed token"
    );
    // The refreshing replica's file took the rotated login as a backup.
    let rotated: Vec<String> = [&r1, &r2]
        .iter()
        .map(|r| {
            r.file("a")["tokens"]["refresh_token"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(rotated.contains(&"rt-rotated-1".to_string()), "{rotated:?}");

    // No token, in whole or as a JWT part, is stored in clear.
    let new_token = new.trim_start_matches("Bearer ").to_string();
    let dump = redis.dump().await;
    assert!(
        dump.iter().any(|(k, _)| k == "codex-pool:tokens:a"),
        "{:?}",
        dump.iter().map(|d| &d.0).collect::<Vec<_>>()
    );
    for (k, v) in &dump {
        for secret in [
            "rt-original",
            "rt-rotated-1",
            old.as_str(),
            new_token.as_str(),
        ] {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_keep_serving_through_a_redis_restart_and_refresh_only_under_the_lock() {
    let mut redis = Redis::start().await;
    let mock = Mock::start().await;
    let keys = tempfile::tempdir().unwrap();
    let key = key_file(keys.path());
    let token = access_token("a", 3600);
    let login = [("a", token.as_str(), "rt-a")];
    let r1 = Replica::start(&mock, &redis, &key, &login, "").await;
    let r2 = Replica::start(&mock, &redis, &key, &login, "").await;
    assert_eq!(r1.chat().await.0, 200);
    assert_eq!(r2.chat().await.0, 200);
    wait_for(|| async {
        metric(
            &r1.get("/metrics").await.1,
            "codex_pool_store_up",
            &[("backend", "redis")],
        ) == Some(1.0)
    })
    .await;

    redis.stop();
    wait_for(|| async {
        metric(
            &r1.get("/metrics").await.1,
            "codex_pool_store_up",
            &[("backend", "redis")],
        ) == Some(0.0)
    })
    .await;
    // Both serve on with the still-valid token...
    for _ in 0..3 {
        assert_eq!(r1.chat().await.0, 200);
        assert_eq!(r2.chat().await.0, 200);
    }
    let (ready, body) = r1.get("/readyz").await;
    assert_eq!(ready, 200, "{body}");
    assert!(body.contains("degraded"), "{body}");
    // ...and no refresh happens without the shared lock.
    assert_ne!(r1.admin_refresh("a").await, 200);
    let (_, accounts) = r1.admin_get("/admin/accounts").await;
    assert!(accounts.contains("store unavailable"), "{accounts}");
    assert!(
        mock.token_calls().is_empty(),
        "the issuer was called without the lock"
    );

    // Redis comes back empty (no persistence): the replicas seed it again
    // from their files, and a refresh works once, for both.
    redis.restart().await;
    wait_for(|| async {
        metric(
            &r1.get("/metrics").await.1,
            "codex_pool_store_up",
            &[("backend", "redis")],
        ) == Some(1.0)
    })
    .await;
    let mut stored = false;
    for _ in 0..100 {
        if redis
            .dump()
            .await
            .iter()
            .any(|(k, _)| k == "codex-pool:tokens:a")
        {
            stored = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(stored, "the store was not seeded again");
    // The account cooled after the failed refresh; make it serve again.
    let enable = client()
        .post(r1.url("/admin/accounts/a/enable"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(enable.status().as_u16(), 200);
    assert_eq!(r1.admin_refresh("a").await, 200, "{}", r1.log());
    assert_eq!(mock.token_calls().len(), 1);
    assert_eq!(mock.token_calls()[0]["refresh_token"], "rt-a");
    // r2 picks the rotated login up from the store without calling the issuer.
    let mut converged = false;
    for _ in 0..50 {
        let before = mock.responses().len();
        // (r2 may still hold the cooldown r1 shared, until r1's enable reaches it.)
        if r2.chat().await.0 != 200 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let seen = bearers(&mock);
        if seen[before..]
            .iter()
            .all(|b| *b != format!("Bearer {token}"))
        {
            converged = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(converged, "r2 never used the rotated token");
    assert_eq!(mock.token_calls().len(), 1);
}

/// Polls `check` for up to 10 s.
async fn wait_for<F, Fut>(check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("condition not met within 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_usage_limit_seen_by_one_replica_is_honoured_by_the_other_without_a_try() {
    let redis = Redis::start().await;
    let mock = Mock::start().await;
    let keys = tempfile::tempdir().unwrap();
    let key = key_file(keys.path());
    let (ta, tb) = (access_token("a", 3600), access_token("b", 3600));
    let logins = [("a", ta.as_str(), "rt-a"), ("b", tb.as_str(), "rt-b")];
    let r1 = Replica::start(&mock, &redis, &key, &logins, "").await;
    let r2 = Replica::start(&mock, &redis, &key, &logins, "").await;
    let resets = now() + 3600;
    mock.script(
        "a",
        Script::Status(
            429,
            serde_json::json!({"error": {"type": "usage_limit_reached", "resets_at": resets}})
                .to_string(),
            vec![],
        ),
    );
    assert_eq!(r1.chat().await.0, 200);
    let hit = mock.accounts_hit();
    assert_eq!(hit, ["a", "b"], "r1 tried a, then moved to b");
    // r2 learns it through the store.
    wait_for(|| async {
        let (_, body) = r2.admin_get("/admin/accounts").await;
        let v: Value = serde_json::from_str(&body).unwrap_or_default();
        v["accounts"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["name"] == "a"))
            .is_some_and(|a| a["state"] == "cooling")
    })
    .await;
    for _ in 0..3 {
        assert_eq!(r2.chat().await.0, 200);
    }
    let hit = mock.accounts_hit();
    assert_eq!(hit, ["a", "b", "b", "b", "b"], "r2 never tried a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_per_minute_holds_across_both_replicas() {
    let redis = Redis::start().await;
    let mock = Mock::start().await;
    let keys = tempfile::tempdir().unwrap();
    let key = key_file(keys.path());
    let ta = access_token("a", 3600);
    let logins = [("a", ta.as_str(), "rt-a")];
    let team = "[[api_keys]]\nname = \"team\"\nkey = \"sk-team-123456\"\nrequests_per_minute = 4\n";
    let r1 = Replica::start(&mock, &redis, &key, &logins, team).await;
    let r2 = Replica::start(&mock, &redis, &key, &logins, team).await;
    for r in [&r1, &r2] {
        wait_for(|| async {
            metric(
                &r.get("/metrics").await.1,
                "codex_pool_store_up",
                &[("backend", "redis")],
            ) == Some(1.0)
        })
        .await;
    }
    let mut ok = 0;
    let mut limited = 0;
    for i in 0..8 {
        let r = if i % 2 == 0 { &r1 } else { &r2 };
        match r.chat_as("sk-team-123456").await.0 {
            200 => ok += 1,
            429 => limited += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(
        (ok, limited),
        (4, 4),
        "4 per minute for both replicas together"
    );
    assert_eq!(mock.responses().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_alternating_replicas_stays_on_one_account() {
    let redis = Redis::start().await;
    let mock = Mock::start().await;
    let keys = tempfile::tempdir().unwrap();
    let key = key_file(keys.path());
    let (ta, tb) = (access_token("a", 3600), access_token("b", 3600));
    let logins = [("a", ta.as_str(), "rt-a"), ("b", tb.as_str(), "rt-b")];
    let rr = "[pool]\nstrategy = \"round_robin\"\n";
    let r1 = Replica::start(&mock, &redis, &key, &logins, rr).await;
    let r2 = Replica::start(&mock, &redis, &key, &logins, rr).await;
    for r in [&r1, &r2] {
        wait_for(|| async {
            metric(
                &r.get("/metrics").await.1,
                "codex_pool_store_up",
                &[("backend", "redis")],
            ) == Some(1.0)
        })
        .await;
    }
    async fn turn(r: &Replica, session: &str) -> String {
        let body = serde_json::json!({"model": "gpt-5.4", "prompt_cache_key": session,
            "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}]});
        let resp = client()
            .post(r.url("/v1/responses"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        resp.headers()["x-codex-pool-account"]
            .to_str()
            .unwrap()
            .to_string()
    }
    let mut on = Vec::new();
    for i in 0..8 {
        let r = if i % 2 == 0 { &r1 } else { &r2 };
        // New conversations in between turn each replica's wheel, by
        // different amounts, so that its own placement would differ.
        for j in 0..(1 + i % 2) {
            turn(r, &format!("other-{i}-{j}")).await;
        }
        on.push(turn(r, "conv-x").await);
    }
    assert!(on.iter().all(|a| *a == on[0]), "{on:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_login_in_one_replicas_file_replaces_the_stores_for_both() {
    let redis = Redis::start().await;
    let mock = Mock::start().await;
    let keys = tempfile::tempdir().unwrap();
    let key = key_file(keys.path());
    let old = access_token("a", 3600);
    let login = [("a", old.as_str(), "rt-a")];
    let r1 = Replica::start(&mock, &redis, &key, &login, "").await;
    let r2 = Replica::start(&mock, &redis, &key, &login, "").await;
    assert_eq!(r1.chat().await.0, 200);
    let fresh = access_token("relogged", 3600);
    write_auth(&r2.dir.path().join("a.json"), "a", &fresh, "rt-relogged");
    let mut used = false;
    for _ in 0..50 {
        let before = mock.responses().len();
        assert_eq!(r1.chat().await.0, 200);
        if bearers(&mock)[before..] == [format!("Bearer {fresh}")] {
            used = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(used, "r1 never used the login written to r2's file");
    assert!(mock.token_calls().is_empty());
    // r1 keeps its file in step with the store.
    let mut synced = false;
    for _ in 0..30 {
        if r1.file("a")["tokens"]["refresh_token"] == "rt-relogged" {
            synced = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(synced, "r1's auth file did not take the store's login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_budgets_count_across_both_replicas() {
    let redis = Redis::start().await;
    let mock = Mock::start().await;
    let keys = tempfile::tempdir().unwrap();
    let key = key_file(keys.path());
    let ta = access_token("a", 3600);
    let logins = [("a", ta.as_str(), "rt-a")];
    let dave = "[[api_keys]]\nname = \"dave\"\nkey = \"sk-dave-123456\"\ntokens_per_hour = 50\n";
    let r1 = Replica::start(&mock, &redis, &key, &logins, dave).await;
    let r2 = Replica::start(&mock, &redis, &key, &logins, dave).await;
    // 30 tokens an answer: one on each replica spends the 50 between them.
    assert_eq!(r1.chat_as("sk-dave-123456").await.0, 200);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(r2.chat_as("sk-dave-123456").await.0, 200);
    tokio::time::sleep(Duration::from_millis(700)).await;
    for r in [&r1, &r2] {
        let (status, text) = r.chat_as("sk-dave-123456").await;
        assert_eq!(status, 429, "{text}");
        assert!(text.contains("budget_exceeded"), "{text}");
    }
    assert_eq!(mock.responses().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_writes_the_new_login_to_the_store() {
    let redis = Redis::start().await;
    let mock = Mock::start().await;
    let keys = tempfile::tempdir().unwrap();
    let key = key_file(keys.path());
    let old = access_token("a", 3600);
    let login = [("a", old.as_str(), "rt-a")];
    let mut r1 = Replica::start(&mock, &redis, &key, &login, "").await;
    let r2 = Replica::start(&mock, &redis, &key, &login, "").await;
    assert_eq!(r2.chat().await.0, 200);
    // r1 is stopped: only the store can carry the login to r2.
    let config = r1.dir.path().join("config.toml");
    let dir = tempfile::tempdir().unwrap();
    r1.stop();
    let fresh = access_token("imported", 3600);
    let src = dir.path().join("auth.json");
    write_auth(&src, "a", &fresh, "rt-imported");
    let out = Command::new(binary())
        .args(["import", "--config"])
        .arg(&config)
        .args(["--account", "a"])
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("shared store"),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut used = false;
    for _ in 0..50 {
        let before = mock.responses().len();
        assert_eq!(r2.chat().await.0, 200);
        if bearers(&mock)[before..] == [format!("Bearer {fresh}")] {
            used = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(used, "r2 never used the imported login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_to_a_server_without_tls_fails_without_panicking() {
    let redis = Redis::start().await;
    let keys = tempfile::tempdir().unwrap();
    let key = key_file(keys.path());
    let cfg = keys.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[store]\nredis_url = \"rediss://127.0.0.1:{}/0\"\nencryption_key_file = \"{}\"\n",
            redis.port,
            key.display()
        ),
    )
    .unwrap();
    let config = codex_pool::config::Config::load(&cfg).unwrap();
    let shared = codex_pool::store::Redis::new(config.store.as_ref().unwrap()).unwrap();
    shared.connect();
    assert!(
        !shared.ping().await,
        "a TLS handshake with a plain server cannot succeed"
    );
    assert!(!shared.is_up());
}
