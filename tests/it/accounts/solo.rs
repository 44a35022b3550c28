//! Solo mode and the solo path: `serve` with no config file at all serves the
//! Codex CLI's own login on 127.0.0.1:8787 and warns, once, that both
//! programs then share one refresh token; two imports and `serve` need no
//! config written by hand. Everything runs in a throwaway `HOME`; every HTTPS
//! request the binary might make (the default upstream, the default issuer)
//! goes to a proxy the test started, which refuses it: nothing leaves the
//! machine.
//!
//! Both tests need the fixed port 8787 (solo mode's contract), so they take
//! turns, and skip serving when another program holds the port.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use tokio::sync::Mutex;

use crate::support::process::Process;
use crate::support::*;

/// Taken by a test that starts the gateway on 127.0.0.1:8787.
static PORT_8787: Mutex<()> = Mutex::const_new(());

/// Whether 127.0.0.1:8787 is free right now.
fn port_8787_free() -> bool {
    std::net::TcpListener::bind("127.0.0.1:8787").is_ok()
}

struct Home {
    dir: tempfile::TempDir,
    proxy: String,
}

impl Home {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = cli::command(args);
        c.env("HOME", self.dir.path())
            .env_remove("XDG_CONFIG_HOME")
            .env("CODEX_HOME", self.dir.path().join("codex"))
            .env("HTTPS_PROXY", &self.proxy)
            .env("HTTP_PROXY", &self.proxy)
            .env("ALL_PROXY", &self.proxy)
            .env_remove("NO_PROXY")
            .env_remove("no_proxy");
        c
    }

    fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = cli::output(&mut self.command(args));
        (out.ok, out.stdout, out.stderr)
    }

    fn config(&self) -> std::path::PathBuf {
        self.dir.path().join(".config/codex-pool/config.toml")
    }
}

fn login_file(dir: &Path, name: &str) -> String {
    let p = dir.join(format!("{name}-auth.json"));
    write_auth(
        &p,
        &format!("acct-{name}"),
        &access_token(name, 3600),
        &format!("rt-{name}"),
    );
    p.to_str().unwrap().to_string()
}

/// Waits until the gateway at `addr` answers `/healthz`.
async fn healthy(addr: SocketAddr, p: &Process) {
    let up = || async {
        let r = client().get(format!("http://{addr}/healthz")).send().await;
        r.is_ok_and(|r| r.status() == 200)
    };
    eventually!(up().await, "{addr} never healthy:\n{}", p.log());
}

#[tokio::test]
async fn with_no_config_at_all_serve_warns_once_and_serves_the_codex_login_on_8787() {
    let _port = PORT_8787.lock().await;
    let proxy = Mock::start().await;
    let home = Home {
        dir: tempfile::tempdir().unwrap(),
        proxy: proxy.url(),
    };
    let codex = home.dir.path().join("codex");
    std::fs::create_dir_all(&codex).unwrap();
    let auth = codex.join("auth.json");
    write_auth(&auth, "solo", &access_token("solo", 3600), "rt");
    let free = port_8787_free();
    let mut cmd = home.command(&["serve"]);
    // The level solo mode logs at by itself.
    cmd.env_remove("RUST_LOG");
    let mut gw = Process::spawn(cmd, home.dir.path().join("gateway.log"));
    // The warning comes before the bind, so it is written whether or not
    // 8787 is free here.
    let line = gw.wait_log("solo mode").await;
    assert!(line.contains("WARN"), "{line}");
    for needed in [
        "Codex CLI's own login",
        "codex-pool import",
        "codex login",
        &auth.display().to_string(),
    ] {
        assert!(line.contains(needed), "{needed:?} missing in: {line}");
    }
    if free {
        let addr = gw.listening().await;
        assert_eq!(addr, SocketAddr::from(([127, 0, 0, 1], 8787)));
        healthy(addr, &gw).await;
        let ready = client()
            .get(format!("http://{addr}/readyz"))
            .send()
            .await
            .unwrap();
        assert_eq!(ready.status(), 200, "the Codex login was not loaded");
    } else {
        eprintln!("serve skipped: 127.0.0.1:8787 is in use on this machine");
    }
    gw.stop(std::time::Duration::from_secs(10)).await;
    let log = gw.log();
    assert_eq!(
        log.lines().filter(|l| l.contains("solo mode")).count(),
        1,
        "said once:\n{log}"
    );
}

#[tokio::test]
async fn two_accounts_and_serve_without_writing_a_config_file() {
    let proxy = Mock::start().await;
    let home = Home {
        dir: tempfile::tempdir().unwrap(),
        proxy: proxy.url(),
    };
    let src = tempfile::tempdir().unwrap();

    // Nothing yet: serve says in one line what to run.
    let (ok, _, err) = home.run(&["serve"]);
    assert!(!ok);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("codex-pool login --account personal"), "{err}");

    // A login that cannot finish leaves no config behind.
    let (ok, _, _) = home.run(&["login", "--device", "--account", "personal"]);
    assert!(!ok);
    assert!(!home.config().exists());

    let (ok, out, err) = home.run(&[
        "import",
        "--account",
        "personal",
        &login_file(src.path(), "personal"),
    ]);
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains("created") && out.contains("default config"),
        "{out}"
    );
    let text = std::fs::read_to_string(home.config()).unwrap();
    assert!(text.starts_with("# codex-pool configuration"), "{text}");
    let (ok, out, err) = home.run(&[
        "import",
        "--account",
        "work",
        &login_file(src.path(), "work"),
    ]);
    assert!(ok, "{out}\n{err}");
    assert!(!out.contains("created"), "{out}");
    let text = std::fs::read_to_string(home.config()).unwrap();
    assert!(
        text.starts_with("# codex-pool configuration"),
        "comments kept: {text}"
    );
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("[[accounts]]"))
            .count(),
        2,
        "{text}"
    );
    assert!(home
        .config()
        .with_file_name("accounts")
        .join("work.json")
        .exists());

    let (ok, out, err) = home.run(&["accounts"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("personal") && out.contains("work") && out.contains("acct-work"),
        "{out}"
    );

    // `codex-config` reads the same file.
    let (ok, out, _) = home.run(&["codex-config"]);
    assert!(ok);
    assert!(
        out.contains("openai_base_url = \"http://127.0.0.1:8787/backend-api/codex\""),
        "{out}"
    );

    let _port = PORT_8787.lock().await;
    if !port_8787_free() {
        eprintln!("serve skipped: 127.0.0.1:8787 is in use on this machine");
        return;
    }
    let mut gw = Process::spawn(
        home.command(&["serve"]),
        home.dir.path().join("gateway.log"),
    );
    let addr = gw.listening().await;
    assert_eq!(
        addr,
        SocketAddr::from(([127, 0, 0, 1], 8787)),
        "serve did not start on the default config"
    );
    healthy(addr, &gw).await;
    let scrape = client()
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    gw.stop(std::time::Duration::from_secs(10)).await;
    for a in ["personal", "work"] {
        assert!(
            scrape.contains(&format!("account=\"{a}\"")),
            "{a} not served:\n{scrape}"
        );
    }
}
