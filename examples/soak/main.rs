//! A seeded soak test with faults: two gateway replicas (the real binary) on
//! one Redis and the mock upstream (in this process, its issuer rotating
//! refresh tokens strictly), steady chat / responses / messages traffic with
//! streams, and faults on a seeded schedule (`faults.rs`). At the end the
//! invariants are checked and printed as a table; the exit code is 1 when
//! one does not hold.
//!
//! `cargo run --example soak -- --bin target/debug/codex-pool [--seed N]
//! [--duration SECS] [--fault-every SECS] [--workers N] [--out FILE]`;
//! `scripts/soak.sh` builds and runs it.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

#[path = "../../tests/it/support/mock/mod.rs"]
mod mock;

mod faults;
mod fleet;
mod report;
mod traffic;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fleet::{Redis, Replica};

/// splitmix64: the schedule and the traffic mix follow from `--seed`.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

pub struct Args {
    pub bin: PathBuf,
    pub seed: u64,
    pub duration: Duration,
    pub every: Duration,
    pub workers: u64,
    pub out: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        bin: PathBuf::from("target/debug/codex-pool"),
        seed: 1,
        duration: Duration::from_secs(150),
        every: Duration::from_secs(8),
        workers: 6,
        out: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--bin" => a.bin = PathBuf::from(v),
            "--seed" => a.seed = v.parse().expect("--seed N"),
            "--duration" => a.duration = Duration::from_secs(v.parse().expect("--duration SECS")),
            "--fault-every" => {
                a.every = Duration::from_secs(v.parse().expect("--fault-every SECS"))
            }
            "--workers" => a.workers = v.parse().expect("--workers N"),
            "--out" => a.out = Some(PathBuf::from(v)),
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

/// Everything the run holds.
pub struct Soak {
    pub mock: mock::Mock,
    pub redis: Redis,
    pub replicas: Vec<Replica>,
    pub routing: Arc<Mutex<traffic::Routing>>,
    pub rng: Rng,
    pub bin: PathBuf,
    pub key: PathBuf,
    pub every: Duration,
    pub frozen: Vec<faults::Frozen>,
    /// Tokens counted by replica processes that were restarted since.
    pub counted_before: u64,
    pub reloads: u32,
    pub notes: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Soak {
    pub fn write_config(&self, r: usize, note: &str) {
        let redis = self.redis.url();
        self.replicas[r].write_config(
            &self.mock.base_url(),
            &self.mock.url(),
            &redis,
            &self.key,
            note,
        );
    }

    async fn start(a: &Args) -> Soak {
        let dir = tempfile::tempdir().expect("temp dir");
        let mock = mock::Mock::start().await;
        mock.set_record(false);
        mock.strict_rotation();
        mock.token_lifetime(Duration::from_secs(100));
        mock.set_default_stream(4, Duration::from_millis(20));
        let redis = Redis::start(dir.path()).await;
        let key_out = std::process::Command::new(&a.bin)
            .arg("store-key")
            .output()
            .expect("store-key");
        let key = dir.path().join("store.key");
        std::fs::write(&key, &key_out.stdout).expect("key");
        set_mode(&key, 0o600);
        let mut soak = Soak {
            mock,
            redis,
            replicas: Vec::new(),
            routing: Arc::default(),
            rng: Rng(a.seed),
            bin: a.bin.clone(),
            key,
            every: a.every,
            frozen: Vec::new(),
            counted_before: 0,
            reloads: 0,
            notes: Vec::new(),
            _dir: tempfile::tempdir().expect("temp dir"),
        };
        // Every replica gets a copy of the same auth files (README: "a copy each is fine").
        for (i, name) in ["r1", "r2"].into_iter().enumerate() {
            let rdir = dir.path().join(name);
            std::fs::create_dir_all(rdir.join("accounts")).expect("dirs");
            soak.replicas.push(Replica {
                name: name.into(),
                port: fleet::free_port(),
                dir: rdir,
                child: None,
                started: Instant::now(),
                baseline: None,
                restarts: 0,
            });
            for acct in fleet::ACCOUNTS {
                let p = soak.replicas[i].accounts_dir().join(format!("{acct}.json"));
                let file = fleet::auth_file(acct, 100, &format!("rt-{acct}-0"));
                std::fs::write(&p, serde_json::to_vec_pretty(&file).expect("json")).expect("auth");
                set_mode(&p, 0o600);
            }
            soak.write_config(i, "start");
            soak.replicas[i].spawn(&a.bin);
            assert!(
                soak.replicas[i].wait_healthy().await,
                "{name} did not start"
            );
        }
        {
            let mut r = soak.routing.lock().expect("routing");
            r.live = vec![true; 2];
            r.inflight = vec![0; 2];
        }
        soak._dir = dir;
        soak
    }
}

fn set_mode(p: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
}

/// Warm-up before a process's memory and descriptors count as its baseline.
const WARM: Duration = Duration::from_secs(20);

#[tokio::main]
async fn main() {
    let a = args();
    let mut soak = Soak::start(&a).await;
    let ports: Vec<u16> = soak.replicas.iter().map(|r| r.port).collect();
    let tally = Arc::new(Mutex::new(traffic::Tally::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..a.workers {
        workers.spawn(traffic::worker(
            a.seed.wrapping_mul(1000).wrapping_add(w),
            ports.clone(),
            Arc::clone(&soak.routing),
            Arc::clone(&tally),
            Arc::clone(&stop),
        ));
    }
    let began = Instant::now();
    let mut schedule: Vec<faults::Fault> = Vec::new();
    let mut applied: Vec<(u64, faults::Fault, String)> = Vec::new();
    let mut next_fault = began + WARM.max(a.every);
    while began.elapsed() < a.duration {
        tokio::time::sleep(Duration::from_millis(500)).await;
        for r in &mut soak.replicas {
            if r.baseline.is_none() && r.started.elapsed() >= WARM {
                r.baseline = r.usage();
            }
        }
        let now = Instant::now();
        soak.frozen.retain(|f| {
            let keep = f.until > now;
            if !keep {
                faults::freeze(&f.dir, false);
            }
            keep
        });
        if now >= next_fault && began.elapsed() + a.every < a.duration {
            if schedule.is_empty() {
                schedule = faults::round(&mut soak.rng);
                schedule.reverse();
            }
            let Some(f) = schedule.pop() else { continue };
            let what = soak.apply(f).await;
            println!("[{:>5}s] {f:?}: {what}", began.elapsed().as_secs());
            applied.push((began.elapsed().as_secs(), f, what));
            next_fault = Instant::now() + a.every;
        }
    }
    stop.store(true, Ordering::Relaxed);
    while workers.join_next().await.is_some() {}
    for f in soak.frozen.drain(..) {
        faults::freeze(&f.dir, false);
    }
    let table = report::check(&mut soak, &tally, &applied, &a).await;
    println!("{table}");
    if let Some(out) = &a.out {
        std::fs::write(out, &table).expect("--out");
    }
    let failed = table.contains("| **FAIL** |");
    for r in &mut soak.replicas {
        r.stop();
    }
    std::process::exit(i32::from(failed));
}
