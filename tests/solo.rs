//! The solo path: two logins and `serve`, no config file written by hand, in
//! a throwaway `HOME`. The account commands and `serve` share the default
//! config path. Every HTTPS request the binary might make (the default
//! upstream, the default issuer) goes to a proxy this test started, which
//! refuses it: nothing leaves the machine.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

#[allow(unused_imports, reason = "common re-exports what other test files use")]
mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{access_token, binary, wait_healthy, write_auth, Mock};

struct Home {
    dir: tempfile::TempDir,
    proxy: String,
}

impl Home {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(binary());
        c.args(args)
            .env("HOME", self.dir.path())
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
        let Output {
            status,
            stdout,
            stderr,
        } = self.command(args).output().unwrap();
        (
            status.success(),
            String::from_utf8_lossy(&stdout).into_owned(),
            String::from_utf8_lossy(&stderr).into_owned(),
        )
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

    if std::net::TcpListener::bind("127.0.0.1:8787").is_err() {
        eprintln!("serve skipped: 127.0.0.1:8787 is in use on this machine");
        return;
    }
    let mut child = home
        .command(&["serve"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let up = wait_healthy(8787).await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let scrape = match client.get("http://127.0.0.1:8787/metrics").send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    assert!(up, "serve did not start on the default config");
    for a in ["personal", "work"] {
        assert!(
            scrape.contains(&format!("account=\"{a}\"")),
            "{a} not served:\n{scrape}"
        );
    }
}
