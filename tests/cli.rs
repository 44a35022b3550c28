//! The binary's contract: check-config, the default config path, solo mode,
//! JSON logs, and the usage probe.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

fn kill(child: &mut std::process::Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

#[test]
fn check_config_lists_every_problem_with_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[pool]\nstrategy = \"random\"\n[upstream]\nidle_timeout = \"soon\"\n[[accounts]]\nname = \"a/b\"\nauth_file = \"x\"\n").unwrap();
    let out = Command::new(binary())
        .args(["check-config", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for key in ["pool.strategy", "upstream.idle_timeout", "accounts[0].name"] {
        assert!(
            err.contains(&format!("{}: {key}:", cfg.display())),
            "{key} missing in:\n{err}"
        );
    }
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "[[accounts]]\nname = \"a\"\nauth_file = \"missing.json\"\n",
    )
    .unwrap();
    let out = Command::new(binary())
        .args(["check-config", "--config"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning") && err.contains("missing.json"),
        "{err}"
    );
}

#[test]
fn the_example_config_is_valid() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let out = Command::new(binary())
        .args(["check-config", "--config"])
        .arg(&example)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn serve_without_config_uses_the_default_config_file() {
    let mock = Mock::start().await;
    let home = tempfile::tempdir().unwrap();
    let xdg = home.path().join("xdg");
    let dir = xdg.join("codex-pool");
    std::fs::create_dir_all(&dir).unwrap();
    write_auth(&dir.join("a.json"), "a", &access_token("a", 3600), "rt");
    let port = free_port();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n{}",
            config_text(&mock, &["a"], "")
        ),
    )
    .unwrap();
    let mut child = Command::new(binary())
        .arg("serve")
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", &xdg)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let up = wait_healthy(port).await;
    kill(&mut child);
    assert!(
        up,
        "serve did not pick up $XDG_CONFIG_HOME/codex-pool/config.toml"
    );
}

#[tokio::test]
async fn serve_with_no_config_at_all_serves_the_codex_login_on_8787() {
    if std::net::TcpListener::bind("127.0.0.1:8787").is_err() {
        eprintln!("skipped: 127.0.0.1:8787 is in use on this machine");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let codex = home.path().join("codex");
    std::fs::create_dir_all(&codex).unwrap();
    write_auth(
        &codex.join("auth.json"),
        "solo",
        &access_token("solo", 3600),
        "rt",
    );
    let mut child = Command::new(binary())
        .arg("serve")
        .env("HOME", home.path())
        .env_remove("XDG_CONFIG_HOME")
        .env("CODEX_HOME", &codex)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let up = wait_healthy(8787).await;
    let ready = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get("http://127.0.0.1:8787/readyz")
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    kill(&mut child);
    assert!(up, "solo mode did not serve on 127.0.0.1:8787");
    assert_eq!(ready, 200, "the Codex login was not loaded");
}

#[tokio::test]
async fn json_logs_carry_the_request_id() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_auth(
        &dir.path().join("a.json"),
        "a",
        &access_token("a", 3600),
        "rt",
    );
    write_auth(
        &dir.path().join("b.json"),
        "b",
        &access_token("b", 3600),
        "rt",
    );
    let port = free_port();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n[log]\nformat = \"json\"\n{}",
            config_text(&mock, &["a", "b"], "")
        ),
    )
    .unwrap();
    let log = dir.path().join("log.jsonl");
    let mut child = Command::new(binary())
        .args(["serve", "--config"])
        .arg(&cfg)
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    assert!(wait_healthy(port).await);
    mock.script("a", Script::Status(500, "boom".into(), vec![]));
    let r = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .header("content-type", "application/json")
        .header("x-request-id", "trace-77")
        .body(chat("gpt-5.4", "hi").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    kill(&mut child);
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let failover = lines
        .iter()
        .find(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.contains("failing over"))
        })
        .expect("a failover line");
    assert_eq!(failover["request_id"], "trace-77");
    assert_eq!(failover["account"], "a");
    assert_eq!(failover["reason"], "server_error");
    assert!(!text.contains("Bearer"), "no token in logs");
}

#[tokio::test]
async fn the_usage_probe_fills_in_idle_accounts_quota() {
    let mock = Mock::start().await;
    let gw = Gateway::start(
        &mock,
        &["a"],
        "[pool]\nusage_probe_interval = \"1h\"\n[admin]\ntoken = \"admin-secret\"\n",
    )
    .await;
    let mut quota = Value::Null;
    for _ in 0..50 {
        let (_, text) = gw
            .get(
                "/admin/accounts",
                &[("authorization", "Bearer admin-secret")],
            )
            .await;
        let v: Value = serde_json::from_str(&text).unwrap();
        quota = v["accounts"][0]["quota"].clone();
        if !quota.is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(quota["primary"]["used_percent"], 17.0, "{quota}");
    assert_eq!(quota["primary"]["window_minutes"], 300);
    assert_eq!(quota["secondary"]["resets_at"], 1_900_500_000);
    assert_eq!(quota["plan"], "pro");
    let probe = mock
        .seen()
        .into_iter()
        .find(|s| s.path.ends_with("/wham/usage"))
        .unwrap();
    assert_eq!(probe.path, "/backend-api/wham/usage");
    assert_eq!(probe.header("chatgpt-account-id"), Some("a"));
    assert!(mock.responses().is_empty(), "the probe costs no request");
    gw.stop().await;
}

#[tokio::test]
async fn metrics_can_have_their_own_listener() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_auth(
        &dir.path().join("a.json"),
        "a",
        &access_token("a", 3600),
        "rt",
    );
    let (port, mport) = (free_port(), free_port());
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, format!("[server]\nlisten = \"127.0.0.1:{port}\"\n[metrics]\nlisten = \"127.0.0.1:{mport}\"\n{}", config_text(&mock, &["a"], ""))).unwrap();
    let mut child = Command::new(binary())
        .args(["serve", "--config"])
        .arg(&cfg)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_healthy(port).await);
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let scrape = client
        .get(format!("http://127.0.0.1:{mport}/metrics"))
        .send()
        .await
        .unwrap();
    let ok = scrape.status() == 200;
    let text = scrape.text().await.unwrap();
    let api = client
        .get(format!("http://127.0.0.1:{mport}/v1/models"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    kill(&mut child);
    assert!(ok && text.contains("codex_pool_build_info"), "{text}");
    assert_eq!(api, 404, "the metrics listener serves only /metrics");
}

fn check_config(path: &Path) -> (bool, String) {
    let out = Command::new(binary())
        .args(["check-config", "--config"])
        .arg(path)
        .env_remove("CODEX_POOL_ADMIN_TOKEN")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_config_reports_every_harmful_value_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("harmful.toml");
    std::fs::write(
        &cfg,
        r#"
[server]
listen = "0.0.0.0:8787"
header_read_timeout = "0s"
[upstream]
base_url = "http://example.com/backend-api/codex"
issuer = "http://auth.example.com"
models_refresh = "0s"
first_byte_timeout = "0s"
[pool]
refresh_before_expiry = "2h"
[admin]
token = "change-me"
[[accounts]]
name = "a"
auth_file = "a.json"
[[accounts]]
name = "b"
auth_file = "./a.json"
[[api_keys]]
name = "k"
key_sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
"#,
    )
    .unwrap();
    let (ok, err) = check_config(&cfg);
    assert!(!ok);
    for (key, says) in [
        ("server.header_read_timeout", "minimum of 100ms"),
        ("upstream.base_url", "in clear"),
        ("upstream.issuer", "in clear"),
        ("upstream.models_refresh", "minimum of 1m"),
        ("upstream.first_byte_timeout", "minimum of 100ms"),
        ("pool.refresh_before_expiry", "maximum of 30m"),
        ("admin.token", "16 characters"),
        ("accounts[1].auth_file", "accounts[0]"),
    ] {
        let line = err
            .lines()
            .find(|l| l.starts_with(&format!("{}: {key}:", cfg.display())))
            .unwrap_or_else(|| panic!("{key} missing in:\n{err}"));
        assert!(line.contains(says), "{line}");
    }
    assert!(
        !err.contains("change-me"),
        "the token is not echoed:\n{err}"
    );
}

#[test]
fn check_config_warns_about_readable_secrets_and_shared_logins() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    for file in ["a.json", "b.json"] {
        write_auth(
            &dir.path().join(file),
            "acct-same",
            &access_token("x", 3600),
            "rt",
        );
    }
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        "[admin]\ntoken = \"a-long-admin-token\"\n[[accounts]]\nname = \"a\"\nauth_file = \"a.json\"\n[[accounts]]\nname = \"b\"\nauth_file = \"b.json\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (ok, err) = check_config(&cfg);
    assert!(ok, "warnings do not refuse the file:\n{err}");
    assert!(
        err.lines().any(|l| l.starts_with("warning:")
            && l.contains("readable by group or others")
            && l.contains("admin.token")),
        "{err}"
    );
    assert!(
        err.lines().any(|l| l.starts_with("warning:")
            && l.contains("\"a\" and \"b\"")
            && l.contains("acct-same")),
        "{err}"
    );
    assert!(!err.contains("a-long-admin-token"), "{err}");
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (_, err) = check_config(&cfg);
    assert!(!err.contains("readable by group"), "{err}");
}

#[tokio::test]
async fn an_admin_token_from_the_cli_works_as_its_digest() {
    let out = Command::new(binary()).arg("admin-token").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let token = text
        .lines()
        .find(|l| !l.starts_with('#') && !l.is_empty())
        .unwrap()
        .to_string();
    let stanza: String = text
        .lines()
        .skip_while(|l| *l != "[admin]")
        .take(2)
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(stanza.contains("token_sha256 = \""), "{text}");
    assert!(!stanza.contains(&token), "only the digest goes in the file");

    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a"], &stanza).await;
    let bearer = format!("Bearer {token}");
    let (ok, _) = gw
        .get("/admin/accounts", &[("authorization", bearer.as_str())])
        .await;
    let (wrong, _) = gw
        .get("/admin/accounts", &[("authorization", "Bearer not-it")])
        .await;
    assert_eq!((ok, wrong), (200, 401));

    // `accounts` cannot authenticate with a digest: it says so and how.
    let out = Command::new(binary())
        .args(["accounts", "--config"])
        .arg(&gw.config_path)
        .env_remove("CODEX_POOL_ADMIN_TOKEN")
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    gw.stop().await;
    assert!(out.status.success());
    assert!(
        shown.contains("token_sha256") && shown.contains("CODEX_POOL_ADMIN_TOKEN"),
        "{shown}"
    );
}

#[tokio::test]
async fn the_usage_probe_sends_no_token_of_a_disabled_account() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    for a in ["off", "on"] {
        write_auth(
            &dir.path().join(format!("{a}.json")),
            a,
            &access_token(a, 3600),
            "rt",
        );
    }
    let text = format!(
        "{}[[accounts]]\nname = \"off\"\nauth_file = \"off.json\"\nenabled = false\n[[accounts]]\nname = \"on\"\nauth_file = \"on.json\"\n",
        config_text(
            &mock,
            &[],
            "[pool]\nusage_probe_interval = \"1h\"\n[admin]\ntoken = \"admin-secret\"\n"
        )
    );
    let gw = Gateway::start_with(&mock, dir, &text).await;
    let mut probed = false;
    for _ in 0..50 {
        let (_, text) = gw
            .get(
                "/admin/accounts",
                &[("authorization", "Bearer admin-secret")],
            )
            .await;
        let v: Value = serde_json::from_str(&text).unwrap();
        // "off" comes first in the loop: once "on" has its quota, "off" was passed over.
        if v["accounts"][1]["quota"].is_object() {
            probed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let probes: Vec<String> = mock
        .seen()
        .into_iter()
        .filter(|s| s.path.ends_with("/wham/usage"))
        .map(|s| s.header("chatgpt-account-id").unwrap_or("").to_string())
        .collect();
    gw.stop().await;
    assert!(probed, "the enabled account was probed");
    assert_eq!(probes, vec!["on".to_string()]);
}
