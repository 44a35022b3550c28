//! `codex-pool doctor` against a healthy setup (exit 0) and broken ones
//! (exit 1, the broken check named), never printing a token.

use std::path::Path;

use crate::support::*;

fn doctor(config: &Path, codex_home: &Path) -> cli::Out {
    cli::output(
        cli::command(&["doctor", "--config"])
            .arg(config)
            .env("CODEX_HOME", codex_home)
            .env_remove("CODEX_POOL_ADMIN_TOKEN"),
    )
}

fn free_listen() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("127.0.0.1:{}", l.local_addr().unwrap().port())
}

fn failed(out: &cli::Out, check: &str) -> bool {
    out.stdout
        .lines()
        .any(|l| l.starts_with(&format!("✗ {check}")))
}

#[tokio::test]
async fn a_healthy_setup_passes_and_each_broken_one_is_named() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let listen = free_listen();
    let b = Gateway::builder(&mock).account("a").account("b");
    let cfg = b.write(dir.path(), Some(&listen));
    let out = tokio::task::spawn_blocking({
        let (c, h) = (cfg.clone(), home.path().to_path_buf());
        move || doctor(&c, &h)
    })
    .await
    .unwrap();
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);
    for check in [
        "config",
        "login a",
        "upstream",
        "clock",
        "catalog",
        "issuer",
        "listen",
        "codex cli",
    ] {
        assert!(
            out.stdout.contains(&format!("✓ {check}")),
            "{check}:\n{}",
            out.stdout
        );
    }
    assert!(
        out.stdout.contains(mock::FUTURE_VERSION),
        "the version the catalog needs: {}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("rt-a") && !out.stdout.contains("eyJ"),
        "no token printed"
    );
    let json = tokio::task::spawn_blocking({
        let (c, h) = (cfg.clone(), home.path().to_path_buf());
        move || {
            cli::output(
                cli::command(&["doctor", "--json", "--config"])
                    .arg(&c)
                    .env("CODEX_HOME", &h),
            )
        }
    })
    .await
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["ok"], true);

    // The Codex CLI pointed elsewhere.
    std::fs::write(
        home.path().join("config.toml"),
        "chatgpt_base_url = \"https://example.invalid/backend-api/\"\n",
    )
    .unwrap();
    // A login that cannot be read.
    std::fs::write(dir.path().join("b.json"), "{").unwrap();
    let out = tokio::task::spawn_blocking({
        let (c, h) = (cfg.clone(), home.path().to_path_buf());
        move || doctor(&c, &h)
    })
    .await
    .unwrap();
    assert!(!out.ok);
    assert!(
        failed(&out, "codex cli") && failed(&out, "login b"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("codex-pool login --account b"),
        "{}",
        out.stdout
    );

    // Upstream unreachable.
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace(&mock.url(), "http://127.0.0.1:9");
    std::fs::write(&cfg, text).unwrap();
    std::fs::remove_file(home.path().join("config.toml")).unwrap();
    let out = tokio::task::spawn_blocking({
        let (c, h) = (cfg.clone(), home.path().to_path_buf());
        move || doctor(&c, &h)
    })
    .await
    .unwrap();
    assert!(!out.ok);
    assert!(
        failed(&out, "upstream") && failed(&out, "issuer"),
        "{}",
        out.stdout
    );
}
