//! Logins across replicas on one Redis (`[store]`): a login is newer than
//! another by when its tokens were issued, and a newer one is never replaced
//! by an older one (a stale file, a re-seed, a refused store write).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::cli::store_key;
use crate::support::redis_server::Redis;
use crate::support::*;

use super::bearers;

/// A replica (the binary) with account `a` on the login (`token`, `rt-a`),
/// sharing state on the Redis at `redis` sealed with `key`, with an admin token.
async fn replica(mock: &Mock, redis: &str, key: &Path, token: &str) -> Gateway {
    Gateway::builder(mock)
        .account("a")
        .login(Login::token(token).refresh_token("rt-a"))
        .store(redis, key)
        .admin(ADMIN)
        .spawn()
        .await
}

/// `POST /admin/accounts/{account}/refresh` at `r`: its status.
async fn admin_refresh(r: &Gateway, account: &str) -> u16 {
    r.admin_post(&format!("/admin/accounts/{account}/refresh"))
        .await
        .0
}

/// Whether Redis holds a login for `a`.
async fn stored(redis: &Redis) -> bool {
    redis
        .dump()
        .await
        .iter()
        .any(|(k, _)| k == "codex-pool:tokens:a")
}

/// `chattr +i` on a folder for the life of the guard: root can write a
/// read-only file, not into an immutable folder (a read-only secret mount).
struct Frozen(PathBuf);

impl Frozen {
    fn new(dir: &Path) -> Frozen {
        let ok = Command::new("chattr").arg("+i").arg(dir).status().unwrap();
        assert!(
            ok.success(),
            "chattr +i (needs root or CAP_LINUX_IMMUTABLE)"
        );
        Frozen(dir.to_path_buf())
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

/// Sends a chat request at `r`: the bearer it reached upstream with.
async fn last_bearer(mock: &Mock, r: &Gateway) -> String {
    let (status, _, body) = r.post("/v1/chat/completions", &chat("gpt-5.4", "hi")).await;
    assert_eq!(status, 200, "{body}\n{}", r.log());
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
    let key = store_key(keys.path());
    let token = access_token("a", 3600);
    let r1 = replica(&mock, &redis.url(), &key, &token).await;
    for _ in 0..66 {
        assert_eq!(admin_refresh(&r1, "a").await, 200, "{}", r1.log());
    }
    // The copy taken before those rotations.
    let r2 = replica(&mock, &redis.url(), &key, &token).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let one = last_bearer(&mock, &r1).await;
    let two = last_bearer(&mock, &r2).await;
    assert_eq!(one, two, "both serve the store's login");
    assert_ne!(two, format!("Bearer {token}"));
    assert_eq!(admin_refresh(&r2, "a").await, 200, "{}", r2.log());
    assert_eq!(
        mock.reused_refreshes(),
        0,
        "{}\n---\n{}",
        r1.log(),
        r2.log()
    );
    // r2 overwrote its stale file with the store's login.
    let rt = r2.auth_json("a")["tokens"]["refresh_token"]
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
    let key = store_key(keys.path());
    let token = access_token("a", 3600);
    let r1 = replica(&mock, &redis.url(), &key, &token).await;
    let r2 = replica(&mock, &redis.url(), &key, &token).await;
    let _frozen = Frozen::new(r2.dir());
    for _ in 0..66 {
        assert_eq!(admin_refresh(&r1, "a").await, 200);
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(last_bearer(&mock, &r1).await, last_bearer(&mock, &r2).await);
    assert_eq!(admin_refresh(&r1, "a").await, 200);
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
    let key = store_key(keys.path());
    let token = access_token("a", 3600);
    let r1 = replica(&mock, &redis.url(), &key, &token).await;
    let frozen = Frozen::new(r1.dir());
    assert_eq!(admin_refresh(&r1, "a").await, 200);
    let rotated = last_bearer(&mock, &r1).await;
    assert_ne!(rotated, format!("Bearer {token}"));
    assert!(
        r1.log().contains("could not be written to the auth file"),
        "{}",
        r1.log()
    );
    let scrape = r1.get("/metrics", &[]).await.1;
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
    eventually!(stored(&redis).await, "no login in the store");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(last_bearer(&mock, &r1).await, rotated, "{}", r1.log());
    assert_eq!(admin_refresh(&r1, "a").await, 200, "{}", r1.log());
    assert_eq!(mock.reused_refreshes(), 0, "{}", r1.log());
    // Writable again: the backup catches up and the signal clears.
    drop(frozen);
    assert_eq!(admin_refresh(&r1, "a").await, 200);
    eventually!(
        metric(
            &r1.get("/metrics", &[]).await.1,
            "codex_pool_store_backup_failed",
            &[("account", "a")],
        ) == Some(0.0),
        "the backup signal never cleared"
    );
    assert_eq!(r1.auth_json("a")["tokens"]["refresh_token"], "rt-rotated-3");
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
    let key = store_key(keys.path());
    let token = access_token("a", 3600);
    let url = format!("redis://gw:gw-password@127.0.0.1:{}/0", redis.port);
    let r1 = replica(&mock, &url, &key, &token).await;
    eventually!(stored(&redis).await, "no login in the store");
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
    assert_eq!(admin_refresh(&r1, "a").await, 200, "{}", r1.log());
    let rotated = last_bearer(&mock, &r1).await;
    assert_ne!(rotated, format!("Bearer {token}"));
    acl(&redis, &["allkeys"]).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let started = std::time::Instant::now();
    assert_eq!(last_bearer(&mock, &r1).await, rotated, "{}", r1.log());
    assert!(started.elapsed() < Duration::from_secs(5));
    // The store took the kept login: a second replica starts on it.
    let r2 = replica(&mock, &url, &key, &token).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(last_bearer(&mock, &r2).await, rotated, "{}", r2.log());
    // And the lock is free: a refresh goes through at once.
    let started = std::time::Instant::now();
    assert_eq!(admin_refresh(&r2, "a").await, 200, "{}", r2.log());
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
