//! `codex-pool doctor` (the real binary) against a healthy setup (exit 0)
//! and broken ones (exit 1, the broken check named with what to do), never
//! printing a token, a key or a password; `--json` carries the same checks.
//!
//! - `setups.rs`: healthy; a bad login, unreachable upstream, a skewed
//!   clock, the Codex CLI pointed elsewhere; plan and quota per account.
//! - `refresh.rs`: `--refresh` through the gateway's own refresh, with
//!   gateways running meanwhile and started afterwards; a revoked login.
//! - `store.rs`: `[store]` reachable (its URL without the password) and its
//!   key opening what is stored, against a real Redis.
//! - `live.rs`: a gateway running on the listen address, and its `/metrics`.

mod live;
mod refresh;
mod setups;
mod store;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::support::*;

/// `codex-pool doctor ARGS… --config CONFIG`, the Codex CLI's home `home`,
/// run off the runtime (the mock answers on it meanwhile).
async fn doctor(config: &Path, home: &Path, args: &[&str]) -> cli::Out {
    let (config, home) = (config.to_path_buf(), home.to_path_buf());
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        cli::output(
            cli::command(&["doctor"])
                .args(&args)
                .arg("--config")
                .arg(&config)
                .env("CODEX_HOME", &home)
                .env_remove("CODEX_POOL_ADMIN_TOKEN"),
        )
    })
    .await
    .unwrap()
}

/// A loopback address no one listens on now.
fn free_listen() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("127.0.0.1:{}", l.local_addr().unwrap().port())
}

/// The line of `check`, ✓ or ✗.
fn line<'a>(out: &'a cli::Out, check: &str) -> &'a str {
    out.stdout
        .lines()
        .find(|l| {
            l.strip_prefix("✓ ")
                .or_else(|| l.strip_prefix("✗ "))
                .is_some_and(|rest| rest.starts_with(&format!("{check}:")))
        })
        .unwrap_or_else(|| panic!("no {check} line:\n{}\n{}", out.stdout, out.stderr))
}

fn passed(out: &cli::Out, check: &str) -> bool {
    line(out, check).starts_with('✓')
}

/// The checks that failed, by name.
fn failures(out: &cli::Out) -> Vec<String> {
    out.stdout
        .lines()
        .filter_map(|l| l.strip_prefix("✗ "))
        .filter_map(|l| l.split(':').next())
        .map(str::to_string)
        .collect()
}

/// The tokens of the login in `auth_file`.
fn tokens_of(auth_file: &Path) -> Vec<String> {
    let v: Value = serde_json::from_slice(&std::fs::read(auth_file).unwrap()).unwrap();
    ["access_token", "refresh_token", "id_token"]
        .iter()
        .filter_map(|k| v["tokens"][k].as_str().map(str::to_string))
        .collect()
}

/// Asserts the output holds none of `secrets`, nor anything JWT-shaped.
fn no_secrets(out: &cli::Out, secrets: &[String]) {
    let all = format!("{}\n{}", out.stdout, out.stderr);
    assert!(!all.contains("eyJ"), "a JWT was printed:\n{all}");
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        assert!(!all.contains(s.as_str()), "{s:?} was printed:\n{all}");
    }
}

/// `--json` says what the lines say: the same checks, the same verdicts.
fn same_checks(lines: &cli::Out, json: &cli::Out) {
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["ok"], lines.ok, "{}", json.stdout);
    let checks = v["checks"].as_array().unwrap();
    let text: Vec<&str> = lines.stdout.lines().collect();
    assert_eq!(
        checks.len(),
        text.len(),
        "{}\n{}",
        json.stdout,
        lines.stdout
    );
    for (c, l) in checks.iter().zip(text) {
        let mark = if c["ok"] == true { "✓" } else { "✗" };
        let head = format!("{mark} {}: ", c["check"].as_str().unwrap());
        assert!(l.starts_with(&head), "{l} vs {c}");
        let fix = c["fix"].as_str().unwrap();
        assert!(
            fix.is_empty() || l.ends_with(&format!(" — {fix}")),
            "{l} vs {c}"
        );
    }
}

/// A gateway served in this process from the config at `path`, on the
/// listen address (and `[metrics].listen`) it names: a gateway started
/// from files the doctor has just looked at.
struct Served {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    handle: JoinHandle<()>,
}

impl Served {
    async fn start(path: &Path) -> Served {
        let config = codex_pool::config::Config::load(path).unwrap();
        let addr = config.server.listen;
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            let stopped = async move {
                let _ = rx.await;
            };
            codex_pool::run(config, listener, stopped).await.unwrap();
        });
        let served = Served {
            addr,
            stop: Some(tx),
            handle,
        };
        let url = served.url("/healthz");
        eventually!(
            client()
                .get(&url)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200),
            "{url} never healthy"
        );
        served
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A chat completion: its status and body.
    async fn chat(&self) -> (u16, String) {
        let resp = client()
            .post(self.url("/v1/chat/completions"))
            .header("content-type", "application/json")
            .body(chat("gpt-5.4", "hi").to_string())
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.handle).await;
    }
}

/// A copy of the config at `path`, beside it, with `from` replaced by `to`.
fn config_variant(path: &Path, name: &str, from: &str, to: &str) -> PathBuf {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from} not in:\n{text}");
    let out = path.with_file_name(name);
    std::fs::write(&out, text.replace(from, to)).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o600)).unwrap();
    out
}
