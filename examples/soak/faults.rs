//! The soak's faults, and the seeded schedule that applies them: rounds of
//! every fault in a seeded order, one every `--fault-every`.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use super::mock::{self, Script};
use super::Soak;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    Upstream429,
    Upstream5xx,
    UpstreamTimeout,
    MidStreamCut,
    TokenRefresh,
    RedisRestartKeep,
    RedisRestartEmpty,
    ReadOnlyAuthFile,
    ReplicaRestart,
    ConfigReload,
}

pub const ALL: [Fault; 10] = [
    Fault::Upstream429,
    Fault::Upstream5xx,
    Fault::UpstreamTimeout,
    Fault::MidStreamCut,
    Fault::TokenRefresh,
    Fault::RedisRestartKeep,
    Fault::RedisRestartEmpty,
    Fault::ReadOnlyAuthFile,
    Fault::ReplicaRestart,
    Fault::ConfigReload,
];

/// The next round: every fault once, in a seeded order.
pub fn round(rng: &mut super::Rng) -> Vec<Fault> {
    let mut v = ALL.to_vec();
    for i in (1..v.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        v.swap(i, j);
    }
    v
}

/// A folder made immutable (`chattr +i`: root can write a read-only file,
/// not an immutable folder), and when it is freed again.
pub struct Frozen {
    pub dir: PathBuf,
    pub until: Instant,
}

pub fn freeze(dir: &PathBuf, on: bool) {
    let _ = Command::new("chattr")
        .arg(if on { "+i" } else { "-i" })
        .arg(dir)
        .status();
}

impl Soak {
    /// Applies `fault`; the line says what was done.
    pub async fn apply(&mut self, fault: Fault) -> String {
        let account = super::fleet::ACCOUNTS[self.rng.below(3) as usize];
        let r = self.rng.below(self.replicas.len() as u64) as usize;
        match fault {
            Fault::Upstream429 => {
                let body = json!({"error": {"type": "usage_limit_reached", "message": "The usage limit has been reached", "resets_in_seconds": 4}});
                for _ in 0..2 {
                    self.mock.script(
                        account,
                        Script::Status(
                            429,
                            body.to_string(),
                            vec![("retry-after".into(), "4".into())],
                        ),
                    );
                }
                format!("two 429s for account {account}")
            }
            Fault::Upstream5xx => {
                for _ in 0..2 {
                    self.mock.script(
                        account,
                        Script::Status(
                            503,
                            "{\"error\":{\"message\":\"overloaded\"}}".into(),
                            vec![],
                        ),
                    );
                }
                format!("two 503s for account {account}")
            }
            Fault::UpstreamTimeout => {
                self.mock.script(account, Script::Hang);
                format!("a hung answer for account {account}")
            }
            Fault::MidStreamCut => {
                let mut events = mock::text_events("gpt-5.4", &["Hello", " cut"]);
                events.pop();
                for _ in 0..2 {
                    self.mock.script(account, Script::Events(events.clone()));
                }
                format!("two streams cut before their end for account {account}")
            }
            Fault::TokenRefresh => {
                let got = self.replicas[r]
                    .admin("POST", &format!("/admin/accounts/{account}/refresh"))
                    .await;
                format!(
                    "admin refresh of {account} on {}: {}",
                    self.replicas[r].name,
                    got.is_some()
                )
            }
            Fault::RedisRestartKeep => {
                self.redis.restart(true).await;
                "Redis restarted with its data".into()
            }
            Fault::RedisRestartEmpty => {
                self.redis.restart(false).await;
                "Redis restarted empty".into()
            }
            Fault::ReadOnlyAuthFile => {
                let dir = self.replicas[r].accounts_dir();
                freeze(&dir, true);
                let until = Instant::now() + self.every * 3;
                self.frozen.push(Frozen { dir, until });
                format!(
                    "{}'s auth files read-only for {:?}",
                    self.replicas[r].name,
                    self.every * 3
                )
            }
            Fault::ReplicaRestart => self.restart_replica(r).await,
            Fault::ConfigReload => {
                self.reloads += 1;
                let note = format!("reload {}", self.reloads);
                self.write_config(r, &note);
                let pid = self.replicas[r].pid().unwrap_or(0);
                let _ = Command::new("kill")
                    .args(["-HUP", &pid.to_string()])
                    .status();
                format!("config of {} rewritten and SIGHUP", self.replicas[r].name)
            }
        }
    }

    /// Drains replica `r` (no new requests, its in-flight ones finish),
    /// keeps its token count, restarts it on the same port.
    async fn restart_replica(&mut self, r: usize) -> String {
        self.routing.lock().expect("routing").live[r] = false;
        let drained = Instant::now();
        while self.routing.lock().expect("routing").inflight[r] > 0
            && drained.elapsed() < super::traffic::HUNG
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let counted = self.replicas[r].tokens_counted().await;
        self.counted_before += counted.unwrap_or(0);
        if counted.is_none() {
            self.notes.push(format!(
                "{}: no scrape before its restart",
                self.replicas[r].name
            ));
        }
        self.replicas[r].stop();
        self.replicas[r].restarts += 1;
        self.replicas[r].spawn(&self.bin);
        let up = self.replicas[r].wait_healthy().await;
        self.routing.lock().expect("routing").live[r] = up;
        format!("{} restarted (healthy: {up})", self.replicas[r].name)
    }
}
