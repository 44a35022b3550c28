//! Test harness: the real gateway on `127.0.0.1:0` in process, against the mock.

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used, clippy::panic)]

pub mod mock;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

use codex_pool::app::App;
use codex_pool::config::Config;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

// Not every test file scripts the mock.
#[allow(unused_imports)]
pub use mock::{Mock, Script};

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Writes a Codex `auth.json` (mode 0600) whose account id is `account_id`.
pub fn write_auth(path: &Path, account_id: &str, access: &str, refresh: &str) {
    let v = json!({
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": null,
        "tokens": {
            "id_token": mock::jwt(&json!({"email": format!("{account_id}@example.com"),
                "https://api.openai.com/auth": {"chatgpt_account_id": account_id, "chatgpt_plan_type": "plus"}})),
            "access_token": access,
            "refresh_token": refresh,
            "account_id": account_id,
        },
        "last_refresh": "2026-11-01T00:00:00Z"
    });
    std::fs::write(path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// An access token (JWT) that expires `secs` from now.
pub fn access_token(tag: &str, secs: i64) -> String {
    mock::jwt(&json!({"exp": now() as i64 + secs, "tag": tag}))
}

pub struct Gateway {
    pub addr: std::net::SocketAddr,
    pub app: Arc<App>,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

/// The config for `accounts` (auth files named `<name>.json`, account id = name).
pub fn config_text(mock: &Mock, accounts: &[&str], extra: &str) -> String {
    let idle = if extra.contains("idle_timeout") {
        ""
    } else {
        "idle_timeout = \"5s\"\n"
    };
    let mut text = format!(
        "[upstream]\nbase_url = \"{}\"\nissuer = \"{}\"\n{idle}connect_timeout = \"2s\"\n{extra}\n",
        mock.base_url(),
        mock.url()
    );
    for a in accounts {
        text.push_str(&format!(
            "[[accounts]]\nname = \"{a}\"\nauth_file = \"{a}.json\"\n"
        ));
    }
    text
}

impl Gateway {
    /// Starts a gateway whose accounts are `accounts` (tokens valid for an hour).
    pub async fn start(mock: &Mock, accounts: &[&str], extra: &str) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        for a in accounts {
            write_auth(
                &dir.path().join(format!("{a}.json")),
                a,
                &access_token(a, 3600),
                &format!("rt-{a}"),
            );
        }
        Gateway::start_with(mock, dir, &config_text(mock, accounts, extra)).await
    }

    /// Starts a gateway on a config text in `dir` (auth files already written).
    pub async fn start_with(mock: &Mock, dir: tempfile::TempDir, text: &str) -> Gateway {
        Gateway::start_bound(mock, dir, text, "127.0.0.1:0").await
    }

    /// As `start_with`, its listener bound to `bind` (`0.0.0.0:0`: a listener
    /// off loopback, still reached through 127.0.0.1).
    pub async fn start_bound(
        _mock: &Mock,
        dir: tempfile::TempDir,
        text: &str,
        bind: &str,
    ) -> Gateway {
        let config_path = dir.path().join("config.toml");
        std::fs::write(&config_path, text).unwrap();
        let config = Config::load(&config_path).unwrap_or_else(|e| panic!("{e}"));
        let app = App::new(config).unwrap();
        let listener = TcpListener::bind(bind).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(codex_pool::run_app(
            Arc::clone(&app),
            listener,
            None,
            Some(config_path.clone()),
            async move {
                let _ = rx.await;
            },
        ));
        Gateway {
            addr,
            app,
            dir,
            config_path,
            stop: Some(tx),
            handle: Some(handle),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    /// POSTs JSON and returns status, headers and body text.
    pub async fn post(
        &self,
        path: &str,
        body: &Value,
    ) -> (u16, reqwest::header::HeaderMap, String) {
        self.post_with(path, body, &[]).await
    }

    pub async fn post_with(
        &self,
        path: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let mut req = self
            .client()
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let h = resp.headers().clone();
        (status, h, resp.text().await.unwrap())
    }

    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let mut req = self.client().get(self.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    /// Lets in-flight work finish (shutdown grace) and waits for the server.
    pub async fn stop(self) {
        self.stop_keeping_dir().await;
    }

    /// `stop`, handing back the folder (config, auth files) to look at afterwards.
    pub async fn stop_keeping_dir(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
        self.dir
    }
}

/// The `data:` payloads of an SSE body (without `[DONE]`).
pub fn sse_data(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter_map(|block| {
            let data: Vec<&str> = block
                .lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .collect();
            if data.is_empty() || data == ["[DONE]"] {
                return None;
            }
            serde_json::from_str(&data.join("\n")).ok()
        })
        .collect()
}

pub fn chat(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

/// A metric's value in a Prometheus text scrape, by name and exact label set.
pub fn metric(scrape: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape.lines().find_map(|line| {
        if line.starts_with('#') {
            return None;
        }
        let (series, value) = line.rsplit_once(' ')?;
        let (n, rest) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        if n != name {
            return None;
        }
        let mut got: Vec<(String, String)> = rest
            .split("\",")
            .filter(|s| !s.is_empty())
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                Some((k.to_string(), v.trim_matches('"').to_string()))
            })
            .collect();
        got.sort();
        let mut want: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        want.sort();
        (got == want).then(|| value.parse().ok()).flatten()
    })
}

/// The `codex-pool` binary cargo built for these tests.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_codex-pool")
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `/healthz` on `port` for up to 5 s.
pub async fn wait_healthy(port: u16) -> bool {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    for _ in 0..100 {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
        {
            return r.status() == 200;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
