//! A real `redis-server` for the shared-store tests: started on a free
//! loopback port with persistence off, stopped (and startable again on the
//! same port, empty, as after a restart without persistence) by the test.
//! A machine without `redis-server` fails the test, saying so: CI installs
//! it (`.ci/run`), and a skipped store test would hide a broken store.

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Redis {
    pub port: u16,
    child: Option<Child>,
}

impl Redis {
    pub async fn start() -> Redis {
        let mut r = Redis {
            port: super::free_port(),
            child: None,
        };
        r.restart().await;
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Starts the server (again) on the same port.
    pub async fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run redis-server ({e}): install it (apt-get install redis-server); the store tests need a real Redis")
            });
        self.child = Some(child);
        for _ in 0..100 {
            if self.ping().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not answer on port {}", self.port);
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

    async fn ping(&self) -> bool {
        let Ok(client) = redis::Client::open(self.url()) else {
            return false;
        };
        let Ok(mut c) = client.get_multiplexed_async_connection().await else {
            return false;
        };
        redis::cmd("PING")
            .query_async::<String>(&mut c)
            .await
            .is_ok()
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
            let bytes: Vec<u8> = match kind.as_str() {
                "string" => redis::cmd("GET").arg(&k).query_async(&mut c).await.unwrap(),
                "hash" => {
                    let v: Vec<Vec<u8>> = redis::cmd("HGETALL")
                        .arg(&k)
                        .query_async(&mut c)
                        .await
                        .unwrap();
                    v.concat()
                }
                "zset" => {
                    let v: Vec<Vec<u8>> = redis::cmd("ZRANGE")
                        .arg(&k)
                        .arg(0)
                        .arg(-1)
                        .arg("WITHSCORES")
                        .query_async(&mut c)
                        .await
                        .unwrap();
                    v.concat()
                }
                other => panic!("unexpected Redis type {other} for {k}"),
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
