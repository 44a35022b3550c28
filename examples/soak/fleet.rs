//! The soak's processes: one `redis-server` (restartable with or without its
//! data) and the gateway replicas (the real binary, each with its own folder,
//! auth files and log), plus what the soak reads from them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const ADMIN: &str = "adm-soak-token-0123456789";
pub const ACCOUNTS: [&str; 3] = ["a", "b", "c"];

pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .pool_max_idle_per_host(8)
        .build()
        .expect("http client")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A `redis-server` on a free port; its data file in `dir`.
pub struct Redis {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Redis {
    pub async fn start(dir: &Path) -> Redis {
        let mut r = Redis {
            port: free_port(),
            dir: dir.to_path_buf(),
            child: None,
        };
        r.spawn().await;
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    async fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--dbfilename",
                "soak.rdb",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (apt-get install redis-server)");
        self.child = Some(child);
        for _ in 0..100 {
            if self.query(&["PING"]).await.is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start");
    }

    pub async fn query(&self, args: &[&str]) -> Option<redis::Value> {
        let client = redis::Client::open(self.url()).ok()?;
        let mut c = client.get_multiplexed_async_connection().await.ok()?;
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query_async(&mut c).await.ok()
    }

    /// Restarts: `keep` saves the data first and loads it back; otherwise
    /// the server is killed and comes back empty.
    pub async fn restart(&mut self, keep: bool) {
        if keep {
            let _ = self.query(&["SAVE"]).await;
        } else {
            let _ = std::fs::remove_file(self.dir.join("soak.rdb"));
        }
        self.stop();
        tokio::time::sleep(Duration::from_millis(500)).await;
        self.spawn().await;
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One gateway process.
pub struct Replica {
    pub name: String,
    pub port: u16,
    pub dir: PathBuf,
    pub child: Option<Child>,
    pub started: Instant,
    /// (rss kB, fds) once warmed up, per process.
    pub baseline: Option<(u64, usize)>,
    /// Logs of earlier processes of this replica (before restarts).
    pub restarts: u32,
}

impl Replica {
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.toml")
    }

    pub fn accounts_dir(&self) -> PathBuf {
        self.dir.join("accounts")
    }

    pub fn write_config(&self, base: &str, issuer: &str, redis: &str, key: &Path, note: &str) {
        let mut text = format!(
            "# {note}\n[server]\nlisten = \"127.0.0.1:{}\"\nshutdown_grace = \"20s\"\n\
             [store]\nredis_url = \"{redis}\"\nencryption_key_file = \"{}\"\n\
             [admin]\ntoken = \"{ADMIN}\"\n\
             [upstream]\nbase_url = \"{base}\"\nissuer = \"{issuer}\"\nconnect_timeout = \"2s\"\n\
             idle_timeout = \"5s\"\nfirst_byte_timeout = \"3s\"\n\
             [pool]\nstrategy = \"round_robin\"\nrefresh_before_expiry = \"1m\"\nbackoff_base = \"1s\"\nbackoff_max = \"5s\"\n",
            self.port,
            key.display()
        );
        for a in ACCOUNTS {
            text.push_str(&format!(
                "[[accounts]]\nname = \"{a}\"\nauth_file = \"accounts/{a}.json\"\n"
            ));
        }
        std::fs::write(self.config_path(), text).expect("config");
    }

    pub fn spawn(&mut self, bin: &Path) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("log"))
            .expect("log");
        let child = Command::new(bin)
            .args(["serve", "--config"])
            .arg(self.config_path())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the gateway binary");
        self.child = Some(child);
        self.started = Instant::now();
        self.baseline = None;
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub async fn wait_healthy(&self) -> bool {
        let c = client(Duration::from_secs(1));
        for _ in 0..200 {
            if let Ok(r) = c.get(self.url("/healthz")).send().await {
                return r.status() == 200;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// SIGTERM, then waits for the process (the grace lets streams finish).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// (VmRSS kB, open fds) of the live process.
    pub fn usage(&self) -> Option<(u64, usize)> {
        let pid = self.pid()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let rss = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())?;
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
        Some((rss, fds))
    }

    pub async fn admin(&self, method: &str, path: &str) -> Option<Value> {
        let c = client(Duration::from_secs(70));
        let req = match method {
            "POST" => c.post(self.url(path)),
            _ => c.get(self.url(path)),
        };
        let r = req.bearer_auth(ADMIN).send().await.ok()?;
        serde_json::from_str(&r.text().await.ok()?).ok()
    }

    /// Sum of `codex_pool_tokens_total` over every series.
    pub async fn tokens_counted(&self) -> Option<u64> {
        let c = client(Duration::from_secs(10));
        let text = c
            .get(self.url("/metrics"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        Some(
            text.lines()
                .filter(|l| l.starts_with("codex_pool_tokens_total{"))
                .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
                .sum::<f64>() as u64,
        )
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An unsigned JWT with this payload.
pub fn jwt(payload: &Value) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.sig",
        b64.encode(br#"{"alg":"none"}"#),
        b64.encode(payload.to_string())
    )
}

/// An `auth.json` for `account`, its access token valid `secs`.
pub fn auth_file(account: &str, secs: u64, refresh: &str) -> Value {
    let t = now();
    json!({
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": null,
        "tokens": {
            "id_token": jwt(&json!({"email": format!("{account}@example.com"), "iat": t,
                "https://api.openai.com/auth": {"chatgpt_account_id": account, "chatgpt_plan_type": "plus"}})),
            "access_token": jwt(&json!({"exp": t + secs, "iat": t, "tag": account})),
            "refresh_token": refresh,
            "account_id": account,
        },
        "last_refresh": humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
    })
}
