//! The binary's contract outside serving: `check-config` (every problem with
//! file and key, harmful values, readable secrets, the example config),
//! `serve` on the default config path and refusing to start open on a public
//! address, `keys new`, `admin-token`.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::support::process::Process;
use crate::support::*;

#[test]
fn check_config_lists_every_problem_with_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[pool]\nstrategy = \"random\"\n[upstream]\nidle_timeout = \"soon\"\n[[accounts]]\nname = \"a/b\"\nauth_file = \"x\"\n").unwrap();
    let out = cli::check_config(&cfg);
    assert!(!out.ok);
    let err = out.stderr;
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
    let out = cli::check_config(&good);
    assert!(out.ok);
    let err = out.stderr;
    assert!(
        err.contains("warning") && err.contains("missing.json"),
        "{err}"
    );
}

#[test]
fn the_example_config_is_valid() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let out = cli::check_config(&example);
    assert!(out.ok, "{}", out.stderr);
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
    let cli::Out {
        ok, stderr: err, ..
    } = cli::check_config(&cfg);
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
    let cli::Out {
        ok, stderr: err, ..
    } = cli::check_config(&cfg);
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
    let err = cli::check_config(&cfg).stderr;
    assert!(!err.contains("readable by group"), "{err}");
}

#[tokio::test]
async fn serve_without_config_uses_the_default_config_file() {
    let mock = Mock::start().await;
    let home = tempfile::tempdir().unwrap();
    let xdg = home.path().join("xdg");
    let dir = xdg.join("codex-pool");
    std::fs::create_dir_all(&dir).unwrap();
    // Only here: no `--config`, no config anywhere else.
    Gateway::builder(&mock)
        .account("a")
        .write(&dir, Some("127.0.0.1:0"));
    let mut cmd = cli::command(&["serve"]);
    cmd.env("HOME", home.path()).env("XDG_CONFIG_HOME", &xdg);
    let mut gw = Process::spawn(cmd, home.path().join("gateway.log"));
    let addr = gw.listening().await;
    let log = gw.log();
    assert!(
        log.contains(&dir.join("config.toml").display().to_string()),
        "serve did not pick up $XDG_CONFIG_HOME/codex-pool/config.toml:\n{log}"
    );
    let healthy = || async {
        let r = client().get(format!("http://{addr}/healthz")).send().await;
        r.is_ok_and(|r| r.status() == 200)
    };
    eventually!(healthy().await, "never healthy:\n{}", gw.log());
}

#[tokio::test]
async fn an_admin_token_from_the_cli_works_as_its_digest() {
    let out = cli::run(&["admin-token"]);
    assert!(out.ok);
    let text = out.stdout;
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
    let gw = Gateway::builder(&mock)
        .account("a")
        .toml(stanza)
        .start()
        .await;
    let bearer = format!("Bearer {token}");
    let (ok, _) = gw
        .get("/admin/accounts", &[("authorization", bearer.as_str())])
        .await;
    let (wrong, _) = gw
        .get("/admin/accounts", &[("authorization", "Bearer not-it")])
        .await;
    assert_eq!((ok, wrong), (200, 401));

    // `accounts` cannot authenticate with a digest: it says so and how.
    let out = cli::output(
        cli::command(&["accounts", "--config"])
            .arg(&gw.config_path)
            .env_remove("CODEX_POOL_ADMIN_TOKEN"),
    );
    let shown = out.stdout;
    drop(gw);
    assert!(out.ok);
    assert!(
        shown.contains("token_sha256") && shown.contains("CODEX_POOL_ADMIN_TOKEN"),
        "{shown}"
    );
}

#[test]
fn non_loopback_without_keys_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, "[server]\nlisten = \"0.0.0.0:0\"\n").unwrap();
    let out = cli::output(cli::command(&["serve", "--config"]).arg(&cfg));
    assert!(!out.ok);
    let err = out.stderr;
    assert!(
        err.contains("server.listen") && err.contains("api_keys") && err.contains("keys new"),
        "{err}"
    );
    assert!(!cli::check_config(&cfg).ok);
}

#[test]
fn keys_new_prints_a_key_and_its_hash() {
    let out = cli::run(&["keys", "new", "alice"]);
    assert!(out.ok);
    let text = out.stdout;
    let key = text.lines().find(|l| l.starts_with("sk-pool-")).unwrap();
    let hash = hex::encode(Sha256::digest(key.as_bytes()));
    assert!(text.contains(&format!("key_sha256 = \"{hash}\"")), "{text}");
    assert!(text.contains("name = \"alice\""));
    // The stanza is valid config.
    let stanza: String = text
        .lines()
        .skip_while(|l| !l.starts_with("[[api_keys]]"))
        .collect::<Vec<_>>()
        .join("\n");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, &stanza).unwrap();
    let check = cli::check_config(&cfg);
    assert!(check.ok, "{}", check.stderr);
}
