//! Solo mode (no config file at all) says at start that it serves the Codex
//! CLI's own login, and how to give the gateway a login of its own.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{access_token, binary, write_auth};

#[test]
fn solo_mode_warns_that_it_shares_the_codex_clis_login() {
    let home = tempfile::tempdir().unwrap();
    let codex = home.path().join("codex");
    std::fs::create_dir_all(&codex).unwrap();
    let auth = codex.join("auth.json");
    write_auth(&auth, "solo", &access_token("solo", 3600), "rt");
    let log = home.path().join("gateway.log");
    // Solo mode listens on 127.0.0.1:8787; the warning comes before the bind,
    // so it is written whether or not that port is free here.
    let mut child = Command::new(binary())
        .arg("serve")
        .env("HOME", home.path())
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("RUST_LOG")
        .env("CODEX_HOME", &codex)
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let warned = |text: &str| text.contains("solo mode");
    let mut text = String::new();
    while Instant::now() < deadline {
        text = std::fs::read_to_string(&log).unwrap_or_default();
        if warned(&text) || child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap_or(text);
    let line = text
        .lines()
        .find(|l| warned(l))
        .unwrap_or_else(|| panic!("no solo-mode warning in the log:\n{text}"));
    assert!(line.contains("WARN"), "{line}");
    for needed in [
        "Codex CLI's own login",
        "codex-pool import",
        "codex login",
        &auth.display().to_string(),
    ] {
        assert!(line.contains(needed), "{needed:?} missing in: {line}");
    }
    assert_eq!(
        text.lines().filter(|l| warned(l)).count(),
        1,
        "said once:\n{text}"
    );
}
