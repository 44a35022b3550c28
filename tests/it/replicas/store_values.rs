//! Values read from the shared store are bounded like values read from
//! upstream, one bad value fails only its own call (the store stays up), and
//! a stored login that does not open says so (metric, `/readyz`, admin).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::redis_server::Redis;
use crate::support::*;

/// A store key (mode 0600) in `dir`, made by the library.
fn key_file(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let key = dir.join("store.key");
    std::fs::write(&key, codex_pool::seal::Key::generate().unwrap()).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    key
}

/// A gateway in process with account `a`, sharing state on `redis`, with
/// an admin token; `keys` configures its client keys. The folder holds the
/// store key: keep it as long as the gateway.
async fn gateway(
    mock: &Mock,
    redis: &Redis,
    keys: impl FnOnce(Builder) -> Builder,
) -> (Gateway, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path());
    let b = Gateway::builder(mock)
        .account("a")
        .store(&redis.url(), &key)
        .admin(ADMIN);
    (keys(b).start().await, dir)
}
async fn set(redis: &Redis, key: &str, value: &str) {
    let mut c = redis.conn().await;
    let _: () = ::redis::cmd("SET")
        .arg(key)
        .arg(value)
        .query_async(&mut c)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cooldown_and_quota_from_the_store_are_bounded() {
    let redis = Redis::start().await;
    let mock = Mock::start().await;
    let (gw, _key) = gateway(&mock, &redis, |b| b).await;
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
            .await
            .0,
        200
    );
    // Past the year 9999, and quota numbers out of any range.
    let verdict = json!({"state": "cooling", "until_ms": 300_000_000_000_000u64, "usage_limited": true, "reason": "usage_limit"});
    set(&redis, "codex-pool:health:a", &verdict.to_string()).await;
    let now = now() as i64;
    let quota = json!({"primary": {"used_percent": 1e308, "window_minutes": u64::MAX, "resets_at": i64::MAX},
        "observed_at": now + 10});
    set(&redis, "codex-pool:quota:a", &quota.to_string()).await;
    eventually!(within 20;
        gw.admin_get("/admin/accounts")
            .await
            .1
            .contains("\"state\":\"cooling\""),
        "the verdict was not adopted"
    );
    let (status, text) = gw.admin_get("/admin/accounts").await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    let until = v["accounts"][0]["cooling_until_unix"].as_i64().unwrap();
    assert!(until <= now + 8 * 24 * 3600 + 5, "{until}");
    let (status, _, body) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_ne!(status, 500, "{body}");
    assert!(body.contains("\"code\""), "{body}");
    let labels = [("account", "a"), ("window", "primary")];
    let used = async || {
        let scrape = gw.get("/metrics", &[]).await.1;
        metric(&scrape, "codex_pool_account_quota_used_percent", &labels)
    };
    eventually!(within 20; used().await.is_some(), "the quota was not adopted");
    assert!(
        used().await.is_some_and(|u| u <= 100.0),
        "{:?}",
        used().await
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_of_the_wrong_type_fails_its_call_not_the_store() {
    let redis = Redis::start().await;
    let mock = Mock::start().await;
    let (gw, _key) = gateway(&mock, &redis, |b| {
        b.key("alice", |k| k.secret("sk-alice-123456").rpm(600))
    })
    .await;
    let mut c = redis.conn().await;
    let _: () = ::redis::cmd("HSET")
        .arg("codex-pool:rate:alice")
        .arg("x")
        .arg("y")
        .query_async(&mut c)
        .await
        .unwrap();
    let auth = [("authorization", "Bearer sk-alice-123456")];
    for _ in 0..5 {
        let (status, _, body) = gw
            .post_with("/v1/chat/completions", &chat("gpt-5.4", "hi"), &auth)
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (_, ready) = gw.get("/readyz", &[]).await;
    assert!(!ready.contains("degraded"), "{ready}");
    let scrape = gw.get("/metrics", &[]).await.1;
    assert_eq!(
        metric(&scrape, "codex_pool_store_up", &[("backend", "redis")]),
        Some(1.0)
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_login_that_does_not_open_says_so() {
    let redis = Redis::start().await;
    let mock = Mock::start().await;
    let (gw, _key) = gateway(&mock, &redis, |b| b).await;
    // After the gateway seeded the store, so the seed does not overwrite it.
    eventually!(within 20;
        redis
            .dump()
            .await
            .iter()
            .any(|(k, _)| k == "codex-pool:tokens:a"),
        "the gateway never seeded the store"
    );
    set(&redis, "codex-pool:tokens:a", "not a sealed login").await;
    eventually!(within 20;
        metric(
            &gw.get("/metrics", &[]).await.1,
            "codex_pool_store_login_unreadable",
            &[("account", "a")],
        ) == Some(1.0),
        "{}",
        gw.get("/metrics", &[]).await.1
    );
    eventually!(within 20;
        metric(
            &gw.get("/metrics", &[]).await.1,
            "codex_pool_store_up",
            &[("backend", "redis")],
        ) == Some(0.0),
        "store_up means usable"
    );
    let (_, ready) = gw.get("/readyz", &[]).await;
    assert!(ready.contains("encryption key"), "{ready}");
    let (_, accounts) = gw.admin_get("/admin/accounts").await;
    assert!(accounts.contains("\"store_unreadable\":true"), "{accounts}");
    gw.stop().await;
}

/// L4: the rotated login is written only while the writer still holds the
/// refresh lock: a holder whose lock expired and was taken by another
/// replica cannot land its write over theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_is_written_only_under_the_writers_own_lock() {
    let redis = Redis::start().await;
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path());
    let text = format!(
        "[store]\nredis_url = \"{}\"\nencryption_key_file = \"{}\"\n",
        redis.url(),
        key.display()
    );
    let config = codex_pool::config::Config::parse(&text, &dir.path().join("c.toml")).unwrap();
    let shared = codex_pool::store::Redis::new(config.store.as_ref().unwrap()).unwrap();
    shared.connect();
    let auth = dir.path().join("a.json");
    write_auth(&auth, "a", &access_token("a", 3600), "rt-a");
    let file = codex_pool::auth::file::load(&auth).unwrap();
    let entry = codex_pool::auth::stored::Entry::seed(&shared, file);
    let ttl = Duration::from_millis(100);
    let mine = shared.try_lock("a", ttl).await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    let _theirs = shared
        .try_lock("a", Duration::from_secs(10))
        .await
        .unwrap()
        .unwrap();
    let landed = entry
        .save_locked(&shared, "a", &mine, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(!landed);
    assert!(codex_pool::auth::stored::Entry::load(&shared, "a")
        .await
        .unwrap()
        .is_none());
    let own = shared.try_lock("b", ttl).await.unwrap().unwrap();
    assert!(entry.save_locked(&shared, "b", &own, ttl).await.unwrap());
}
