//! Logins across replicas on one Redis (`[store]`): a login is newer than
//! another by when its tokens were issued, and a newer one is never replaced
//! by an older one (a stale file, a re-seed, a refused store write).

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
use std::process::Command as Cmd;

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
        redis: &str,
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
            redis,
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

/// `chattr +i` on a folder for the life of the guard: root can write a
/// read-only file, not into an immutable folder (a read-only secret mount).
struct Frozen(PathBuf);

impl Frozen {
    fn new(dir: &Path) -> Frozen {
        let ok = Cmd::new("chattr").arg("+i").arg(dir).status().unwrap();
        assert!(
            ok.success(),
            "chattr +i (needs root or CAP_LINUX_IMMUTABLE)"
        );
        Frozen(dir.to_path_buf())
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        let _ = Cmd::new("chattr").arg("-i").arg(&self.0).status();
    }
}

async fn last_bearer(mock: &Mock, r: &Replica) -> String {
    assert_eq!(r.chat().await.0, 200, "{}", r.log());
    bearers(mock).last().cloned().unwrap()
}

/// H1: a copy of the auth file older than the store's last 64 rotations (a
/// replica that was down, or the copy handed to each replica) is a stale
/// backup, never a new login: the store's login stays, on both replicas.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_older_than_many_rotations_never_replaces_the_stores_login() {
    let redis = Redis::start().await;
    let mock = Mock::start().await;
    mock.strict_rotation();
    let keys = tempfile::tempdir().unwrap();
    let key = key_file(keys.path());
    let token = access_token("a", 3600);
    let login = [("a", token.as_str(), "rt-a")];
    let r1 = Replica::start(&mock, &redis.url(), &key, &login, "").await;
    for _ in 0..66 {
        assert_eq!(r1.admin_refresh("a").await, 200, "{}", r1.log());
    }
    // The copy taken before those rotations.
    let r2 = Replica::start(&mock, &redis.url(), &key, &login, "").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let one = last_bearer(&mock, &r1).await;
    let two = last_bearer(&mock, &r2).await;
    assert_eq!(one, two, "both serve the store's login");
    assert_ne!(two, format!("Bearer {token}"));
    assert_eq!(r2.admin_refresh("a").await, 200, "{}", r2.log());
    assert_eq!(
        mock.reused_refreshes(),
        0,
        "{}\n---\n{}",
        r1.log(),
        r2.log()
    );
    // r2 overwrote its stale file with the store's login.
    let rt = r2.file("a")["tokens"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(rt, "rt-rotated-67");
}

/// H1: a replica whose auth file cannot be written keeps the store's login
/// past 64 rotations elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_file_on_one_replica_survives_many_rotations_on_the_other() {
    let redis = Redis::start().await;
    let mock = Mock::start().await;
    mock.strict_rotation();
    let keys = tempfile::tempdir().unwrap();
    let key = key_file(keys.path());
    let token = access_token("a", 3600);
    let login = [("a", token.as_str(), "rt-a")];
    let r1 = Replica::start(&mock, &redis.url(), &key, &login, "").await;
    let r2 = Replica::start(&mock, &redis.url(), &key, &login, "").await;
    let _frozen = Frozen::new(r2.dir.path());
    for _ in 0..66 {
        assert_eq!(r1.admin_refresh("a").await, 200);
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(last_bearer(&mock, &r1).await, last_bearer(&mock, &r2).await);
    assert_eq!(r1.admin_refresh("a").await, 200);
    assert_eq!(
        mock.reused_refreshes(),
        0,
        "{}\n---\n{}",
        r1.log(),
        r2.log()
    );
    assert!(!r1.log().contains("replaces the store's"), "{}", r1.log());
    assert!(!r2.log().contains("replaces the store's"), "{}", r2.log());
}

/// H2: a backup that cannot be written says so (log, metric, admin), and a
/// Redis that restarts empty is seeded from the replica's newer login in
/// memory, not from the stale file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_redis_is_seeded_from_the_newer_login_not_the_stale_file() {
    let mut redis = Redis::start().await;
    let mock = Mock::start().await;
    mock.strict_rotation();
    let keys = tempfile::tempdir().unwrap();
    let key = key_file(keys.path());
    let token = access_token("a", 3600);
    let login = [("a", token.as_str(), "rt-a")];
    let r1 = Replica::start(&mock, &redis.url(), &key, &login, "").await;
    let frozen = Frozen::new(r1.dir.path());
    assert_eq!(r1.admin_refresh("a").await, 200);
    let rotated = last_bearer(&mock, &r1).await;
    assert_ne!(rotated, format!("Bearer {token}"));
    assert!(
        r1.log().contains("could not be written to the auth file"),
        "{}",
        r1.log()
    );
    let scrape = r1.get("/metrics").await.1;
    assert_eq!(
        metric(
            &scrape,
            "codex_pool_store_backup_failed",
            &[("account", "a")]
        ),
        Some(1.0),
        "{scrape}"
    );
    let (_, accounts) = r1.admin_get("/admin/accounts").await;
    assert!(accounts.contains("\"backup_failed\":true"), "{accounts}");

    redis.stop();
    redis.restart().await;
    wait_for(|| async {
        redis
            .dump()
            .await
            .iter()
            .any(|(k, _)| k == "codex-pool:tokens:a")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(last_bearer(&mock, &r1).await, rotated, "{}", r1.log());
    assert_eq!(r1.admin_refresh("a").await, 200, "{}", r1.log());
    assert_eq!(mock.reused_refreshes(), 0, "{}", r1.log());
    // Writable again: the backup catches up and the signal clears.
    drop(frozen);
    assert_eq!(r1.admin_refresh("a").await, 200);
    wait_for(|| async {
        metric(
            &r1.get("/metrics").await.1,
            "codex_pool_store_backup_failed",
            &[("account", "a")],
        ) == Some(0.0)
    })
    .await;
    assert_eq!(r1.file("a")["tokens"]["refresh_token"], "rt-rotated-3");
}

async fn acl(redis: &Redis, rules: &[&str]) {
    let mut c = redis.conn().await;
    let mut cmd = ::redis::cmd("ACL");
    cmd.arg("SETUSER").arg("gw");
    for r in rules {
        cmd.arg(*r);
    }
    let _: () = cmd.query_async(&mut c).await.unwrap();
}

/// M1: a rotated login the store refused is kept by its replica (never
/// dropped for the store's older one), written to the store once it takes
/// writes again, and the lock does not hold refreshes off for 100 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_login_the_store_refused_is_kept_and_written_later() {
    let redis = Redis::start().await;
    acl(&redis, &["on", ">gw-password", "+@all", "~*"]).await;
    let mock = Mock::start().await;
    mock.strict_rotation();
    let keys = tempfile::tempdir().unwrap();
    let key = key_file(keys.path());
    let token = access_token("a", 3600);
    let login = [("a", token.as_str(), "rt-a")];
    let url = format!("redis://gw:gw-password@127.0.0.1:{}/0", redis.port);
    let r1 = Replica::start(&mock, &url, &key, &login, "").await;
    wait_for(|| async {
        redis
            .dump()
            .await
            .iter()
            .any(|(k, _)| k == "codex-pool:tokens:a")
    })
    .await;
    // Logins become read-only for the gateway; everything else stays writable.
    acl(
        &redis,
        &[
            "resetkeys",
            "%R~codex-pool:tokens:*",
            "~codex-pool:lock:*",
            "~codex-pool:health:*",
            "~codex-pool:quota:*",
            "~codex-pool:rate:*",
            "~codex-pool:budget:*",
            "~codex-pool:conv:*",
        ],
    )
    .await;
    assert_eq!(r1.admin_refresh("a").await, 200, "{}", r1.log());
    let rotated = last_bearer(&mock, &r1).await;
    assert_ne!(rotated, format!("Bearer {token}"));
    acl(&redis, &["allkeys"]).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let started = std::time::Instant::now();
    assert_eq!(last_bearer(&mock, &r1).await, rotated, "{}", r1.log());
    assert!(started.elapsed() < Duration::from_secs(5));
    // The store took the kept login: a second replica starts on it.
    let r2 = Replica::start(&mock, &url, &key, &login, "").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(last_bearer(&mock, &r2).await, rotated, "{}", r2.log());
    // And the lock is free: a refresh goes through at once.
    let started = std::time::Instant::now();
    assert_eq!(r2.admin_refresh("a").await, 200, "{}", r2.log());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        mock.reused_refreshes(),
        0,
        "{}\n---\n{}",
        r1.log(),
        r2.log()
    );
}
