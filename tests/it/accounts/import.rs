//! `import` and `accounts`, the real binary on temporary config files: a
//! Codex login copied in (comments and modes kept), a file without tokens
//! refused, the accounts table from the auth files or from the running
//! server.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use codex_pool::config::Config;
use serde_json::json;

use crate::support::{access_token, cli, now, write_auth};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn count_accounts(text: &str) -> usize {
    text.matches("[[accounts]]").count()
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = cli::run(args);
    (out.ok, out.stdout, out.stderr)
}

#[test]
fn import_copies_the_file_and_lists_the_account_keeping_comments() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("config.toml");
    std::fs::write(
        &config_path,
        "# keep me\n[pool]\nstrategy = \"round_robin\" # and me\n",
    )
    .unwrap();
    let source = dir.path().join("codex-auth.json");
    write_auth(
        &source,
        "acct-imported",
        &access_token("imp", 3600),
        "rt-imported-secret",
    );
    std::fs::set_permissions(&source, std::fs::Permissions::from_mode(0o644)).unwrap();
    let cfg = config_path.to_str().unwrap();
    let src = source.to_str().unwrap();

    let (ok, out, err) = run(&["import", "--config", cfg, "--account", "imported", src]);
    assert!(ok, "{out}\n{err}");
    assert!(
        err.contains("0644"),
        "the open mode must be mentioned: {err}"
    );
    assert!(
        err.contains("do not use the login") && err.contains("codex login"),
        "{err}"
    );
    assert!(!out.contains("rt-imported-secret") && !err.contains("rt-imported-secret"));

    let copy = dir.path().join("accounts/imported.json");
    assert_eq!(mode(&copy), 0o600);
    assert_eq!(
        std::fs::read(&copy).unwrap(),
        std::fs::read(&source).unwrap()
    );
    let text = std::fs::read_to_string(&config_path).unwrap();
    assert!(
        text.contains("# keep me\n") && text.contains("# and me"),
        "{text}"
    );
    assert_eq!(mode(&config_path), 0o644, "the config keeps its mode");
    let config = Config::load(&config_path).unwrap();
    assert_eq!(config.account("imported").unwrap().auth_file, copy);

    let (ok, _, err) = run(&["import", "--config", cfg, "--account", "imported", src]);
    assert!(ok, "{err}");
    assert_eq!(
        count_accounts(&std::fs::read_to_string(&config_path).unwrap()),
        1
    );
}

#[test]
fn import_refuses_a_file_without_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("auth.json");
    std::fs::write(&source, r#"{"OPENAI_API_KEY": "sk-not-a-login"}"#).unwrap();
    let config_path = dir.path().join("config.toml");
    let (ok, _, err) = run(&[
        "import",
        "--config",
        config_path.to_str().unwrap(),
        "--account",
        "a",
        source.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        err.contains("no tokens") && err.contains("auth.json"),
        "{err}"
    );
    assert!(!err.contains("sk-not-a-login"));
    assert!(
        !config_path.exists(),
        "nothing is written for a refused import"
    );
}

#[test]
fn accounts_reads_the_auth_files_without_an_admin_api() {
    let dir = tempfile::tempdir().unwrap();
    write_auth(
        &dir.path().join("good.json"),
        "acct-good",
        &access_token("g", 3 * 3600 + 60),
        "rt-g",
    );
    let config_path = dir.path().join("config.toml");
    let text = "[[accounts]]\nname = \"good\"\nauth_file = \"good.json\"\n[[accounts]]\nname = \"gone\"\nauth_file = \"gone.json\"\n";
    std::fs::write(&config_path, text).unwrap();
    let (ok, out, err) = run(&["accounts", "--config", config_path.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.starts_with("source: the auth files"), "{out}");
    let good = out.lines().find(|l| l.starts_with("good ")).unwrap();
    for want in [
        "acct-good@example.com",
        "plus",
        "acct-good",
        "(in 3h",
        "ready",
    ] {
        assert!(good.contains(want), "{want} in {good}");
    }
    let gone = out.lines().find(|l| l.starts_with("gone ")).unwrap();
    assert!(
        gone.contains("needs_relogin: ") && gone.contains("gone.json"),
        "{gone}"
    );
}

#[tokio::test]
async fn accounts_asks_the_running_server_first() {
    use http_body_util::Full;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let answer = json!({"accounts": [{"name": "live", "email": "l@example.com", "plan": "pro", "account_id": "acct-live",
        "state": "cooling", "reason": "rate_limited", "token_expires_at": now() + 7230,
        "quota": {"primary": {"used_percent": 17.0, "window_minutes": 300, "resets_at": now() + 3630},
                  "secondary": {"used_percent": 4.0, "window_minutes": 10080}}}]});
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let answer = answer.clone();
            let svc =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let authorized = req
                        .headers()
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        == Some("Bearer admin-secret-1");
                    let ok = authorized && req.uri().path() == "/admin/accounts";
                    let body = if ok { answer.to_string() } else { "{}".into() };
                    let mut resp = hyper::Response::new(Full::new(bytes::Bytes::from(body)));
                    *resp.status_mut() = if ok {
                        hyper::StatusCode::OK
                    } else {
                        hyper::StatusCode::UNAUTHORIZED
                    };
                    async move { Ok::<_, std::convert::Infallible>(resp) }
                });
            let io = hyper_util::rt::TokioIo::new(stream);
            tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(io, svc));
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("config.toml");
    let text = format!("[server]\nlisten = \"{addr}\"\n[admin]\ntoken = \"admin-secret-1\"\n[[accounts]]\nname = \"live\"\nauth_file = \"live.json\"\n");
    std::fs::write(&config_path, text).unwrap();
    let cfg = config_path.to_str().unwrap().to_string();
    let (ok, out, err) = tokio::task::spawn_blocking(move || run(&["accounts", "--config", &cfg]))
        .await
        .unwrap();
    assert!(ok, "{err}");
    assert!(
        out.starts_with(&format!(
            "source: the running server (http://{addr}/admin/accounts)"
        )),
        "{out}"
    );
    let live = out.lines().find(|l| l.starts_with("live ")).unwrap();
    for want in [
        "l@example.com",
        "pro",
        "acct-live",
        "(in 2h)",
        "cooling: rate_limited",
        "5h 17%, 7d 4%",
        "5h in 1h",
    ] {
        assert!(live.contains(want), "{want} in {live}");
    }
    assert!(!out.contains("admin-secret-1") && !err.contains("admin-secret-1"));
}
