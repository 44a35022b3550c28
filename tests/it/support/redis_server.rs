//! A real `redis-server` for the shared-store tests, with persistence off,
//! that a test can stop and start again on the same port (empty, as after a
//! restart without persistence). A machine without `redis-server` fails the
//! test, saying so (`scripts/test.sh` installs it): a skipped store test
//! would hide a broken store.
//!
//! Redis cannot listen on port 0, so a port is picked free and tried; when
//! another process took it in between, Redis exits with "Address already in
//! use" and the next port is tried. The server that answers is checked to be
//! the one started here (its `process_id`), so two tests can never share one.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Redis {
    pub port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl Redis {
    pub async fn start() -> Redis {
        let mut r = Redis {
            port: 0,
            child: None,
            dir: tempfile::tempdir().unwrap(),
        };
        for _ in 0..20 {
            r.port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            if r.try_start().await {
                return r;
            }
        }
        panic!("redis-server found no free port in 20 tries:\n{}", r.log());
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Starts the server (again) on the same port.
    pub async fn restart(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.try_start().await {
            assert!(
                Instant::now() < deadline,
                "port {} stayed taken:\n{}",
                self.port,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts on `self.port`: true once this server answers; false when the
    /// port was taken.
    async fn try_start(&mut self) -> bool {
        let log = std::fs::File::create(self.log_path()).unwrap();
        let mut child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run redis-server ({e}): install it (scripts/test.sh does); the store tests need a real Redis")
            });
        let pid = child.id();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.process_id().await == Some(pid) {
                self.child = Some(child);
                return true;
            }
            if child.try_wait().unwrap().is_some() {
                let log = self.log();
                assert!(
                    log.contains("Address already in use"),
                    "redis-server exited:\n{log}"
                );
                return false;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer on port {}:\n{}",
                self.port,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub async fn conn(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    /// The pid of the server answering on the port, if one does.
    async fn process_id(&self) -> Option<u32> {
        let client = redis::Client::open(self.url()).ok()?;
        let mut c = client.get_multiplexed_async_connection().await.ok()?;
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut c)
            .await
            .ok()?;
        info.lines()
            .find_map(|l| l.strip_prefix("process_id:"))
            .and_then(|p| p.trim().parse().ok())
    }

    /// Every key and the raw bytes of its value (strings, hashes, sorted sets).
    pub async fn dump(&self) -> Vec<(String, Vec<u8>)> {
        let mut c = self.conn().await;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("*")
            .query_async(&mut c)
            .await
            .unwrap();
        let mut out = Vec::new();
        for k in keys {
            let kind: String = redis::cmd("TYPE")
                .arg(&k)
                .query_async(&mut c)
                .await
                .unwrap();
            let mut cmd = redis::cmd(match kind.as_str() {
                // Expired since `KEYS` listed it (a lock, a rate window).
                "none" => continue,
                "string" => "GET",
                "hash" => "HGETALL",
                "zset" => "ZRANGE",
                other => panic!("unexpected Redis type {other} for {k}"),
            });
            cmd.arg(&k);
            if kind == "zset" {
                cmd.arg(0).arg(-1).arg("WITHSCORES");
            }
            let bytes: Vec<u8> = if kind == "string" {
                cmd.query_async(&mut c).await.unwrap()
            } else {
                let parts: Vec<Vec<u8>> = cmd.query_async(&mut c).await.unwrap();
                parts.concat()
            };
            out.push((k, bytes));
        }
        out
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}
