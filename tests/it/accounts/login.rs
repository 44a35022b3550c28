//! Login against the in-process mock issuer: PKCE and the authorize URL as
//! the Codex CLI makes them, the browser flow (its callback on port 0, the
//! state checked), the device flow (a tiny poll interval), and where a login
//! is stored. (Import and the accounts table: `accounts/import.rs`.)

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use codex_pool::auth::login::{self, Destination, LoginOptions, Prompt, Tokens};
use codex_pool::config::Config;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::support::{access_token, mock, Mock};

fn options(issuer: &str) -> (LoginOptions, mpsc::UnboundedReceiver<Prompt>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut opts = LoginOptions::new(
        issuer,
        Arc::new(move |p: &Prompt| {
            let _ = tx.send(p.clone());
        }),
    )
    .unwrap();
    opts.http = reqwest::Client::builder().no_proxy().build().unwrap();
    opts.ports = vec![0];
    opts.open_browser = false;
    opts.timeout = Duration::from_secs(20);
    opts.device_timeout = Duration::from_secs(20);
    opts.poll_interval = Some(Duration::from_millis(10));
    (opts, rx)
}

fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

fn id_token(account_id: &str) -> String {
    mock::jwt(&json!({"email": "login@example.com",
        "https://api.openai.com/auth": {"chatgpt_account_id": account_id, "chatgpt_plan_type": "pro"}}))
}

/// Scripts the issuer's answer to the code exchange.
fn answer_exchange(mock: &Mock, account_id: &str, tag: &str) {
    mock.token_answer(
        200,
        json!({"id_token": id_token(account_id), "access_token": access_token(tag, 3600),
               "refresh_token": format!("rt-{tag}")}),
    );
}

/// A browser flow under way: the task running it, and where its callback is.
struct Flow {
    task: tokio::task::JoinHandle<Result<Tokens, String>>,
    redirect_uri: String,
    state: String,
    url: String,
}

/// Starts the browser flow and waits for its prompt.
async fn start_browser(mock: &Mock) -> Flow {
    let (opts, mut prompts) = options(&mock.url());
    let task = tokio::spawn(async move { login::browser_login(&opts).await });
    let Some(Prompt::Browser { url, redirect_uri }) = prompts.recv().await else {
        panic!("no browser prompt")
    };
    let q = query(&url);
    assert_eq!(q["redirect_uri"], redirect_uri);
    let state = q["state"].clone();
    Flow {
        task,
        redirect_uri,
        state,
        url,
    }
}

/// Plays the browser coming back to the callback with `params`; returns the status.
async fn call_back(flow: &Flow, params: &[(&str, &str)]) -> u16 {
    let callback =
        url::Url::parse_with_params(&flow.redirect_uri.replace("localhost", "127.0.0.1"), params)
            .unwrap();
    crate::support::client()
        .get(callback)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Runs the browser flow, playing the browser: the callback gets `code` and
/// the real `state`. Returns the flow's result, the callback's HTTP status and
/// the authorize URL.
async fn browser(mock: &Mock, code: &str) -> (Result<Tokens, String>, u16, String) {
    let flow = start_browser(mock).await;
    let status = call_back(&flow, &[("code", code), ("state", &flow.state)]).await;
    (flow.task.await.unwrap(), status, flow.url)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn count_accounts(text: &str) -> usize {
    text.matches("[[accounts]]").count()
}

#[test]
fn pkce_and_the_authorize_url_are_the_codex_clis() {
    let pkce = login::Pkce::new().unwrap();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    assert_eq!(b64.decode(pkce.verifier.expose()).unwrap().len(), 64);
    assert!(!pkce.verifier.expose().contains('='));
    assert_eq!(
        pkce.challenge,
        b64.encode(Sha256::digest(pkce.verifier.expose().as_bytes()))
    );
    assert_ne!(
        login::Pkce::new().unwrap().challenge,
        pkce.challenge,
        "verifiers must be random"
    );

    let redirect = "http://localhost:1455/auth/callback";
    let url = login::authorize_url(
        "https://auth.example.com",
        redirect,
        &pkce.challenge,
        "st-1",
    );
    assert!(
        url.starts_with("https://auth.example.com/oauth/authorize?response_type=code&"),
        "{url}"
    );
    assert!(
        url.contains("scope=openid%20profile%20email%20offline_access"),
        "{url}"
    );
    let q = query(&url);
    let want = [
        ("response_type", "code"),
        ("client_id", "app_EMoamEEZ73f0CkXaXp7hrann"),
        ("redirect_uri", redirect),
        ("scope", "openid profile email offline_access"),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("id_token_add_organizations", "true"),
        ("codex_cli_simplified_flow", "true"),
        ("state", "st-1"),
        ("originator", "codex_cli_rs"),
    ];
    for (k, v) in want {
        assert_eq!(
            q.get(k).map(String::as_str),
            Some(v),
            "parameter {k} of {url}"
        );
    }
    assert_eq!(q.len(), want.len(), "{url}");
}

#[tokio::test]
async fn browser_login_exchanges_the_code_and_stores_the_account() {
    let mock = Mock::start().await;
    answer_exchange(&mock, "acct-login-1", "first");
    let (tokens, status, url) = browser(&mock, "code-123").await;
    let tokens = tokens.unwrap();
    assert_eq!(status, 200);

    let q = query(&url);
    assert!(
        q["redirect_uri"].starts_with("http://localhost:")
            && q["redirect_uri"].ends_with("/auth/callback")
    );
    let calls = mock.token_calls();
    assert_eq!(calls.len(), 1);
    let body = &calls[0];
    assert_eq!(body["grant_type"], "authorization_code");
    assert_eq!(body["code"], "code-123");
    assert_eq!(body["redirect_uri"], q["redirect_uri"].as_str());
    assert_eq!(body["client_id"], "app_EMoamEEZ73f0CkXaXp7hrann");
    let verifier = body["code_verifier"].as_str().unwrap();
    assert_eq!(
        login::challenge(verifier),
        q["code_challenge"],
        "the verifier must match the challenge sent"
    );
    assert!(
        !format!("{tokens:?}").contains("rt-first"),
        "tokens must not Debug-print"
    );

    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("config.toml");
    std::fs::write(
        &config_path,
        format!(
            "# my pool\n[upstream]\nissuer = \"{}\" # the mock\n",
            mock.url()
        ),
    )
    .unwrap();
    let dest = Destination::resolve(&config_path, "work").unwrap();
    assert_eq!(dest.issuer, mock.url());
    assert!(!dest.listed);
    assert!(
        dest.store(&login::auth_file(&tokens)).unwrap(),
        "the entry must be added"
    );

    let auth_path = dir.path().join("accounts/work.json");
    assert_eq!(mode(&auth_path), 0o600);
    let saved: Value = serde_json::from_slice(&std::fs::read(&auth_path).unwrap()).unwrap();
    assert_eq!(saved["auth_mode"], "chatgpt");
    assert_eq!(saved["OPENAI_API_KEY"], Value::Null);
    assert_eq!(saved["tokens"]["account_id"], "acct-login-1");
    assert_eq!(saved["tokens"]["refresh_token"], "rt-first");
    assert!(humantime::parse_rfc3339_weak(saved["last_refresh"].as_str().unwrap()).is_ok());

    let text = std::fs::read_to_string(&config_path).unwrap();
    assert!(
        text.starts_with("# my pool\n") && text.contains("# the mock"),
        "{text}"
    );
    let config = Config::load(&config_path).unwrap();
    assert_eq!(config.account("work").unwrap().auth_file, auth_path);
    let (_, creds) = codex_pool::auth::file::load_credentials(&auth_path).unwrap();
    assert_eq!(creds.account_id.as_deref(), Some("acct-login-1"));
}

#[tokio::test]
async fn logging_in_twice_keeps_one_accounts_entry() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("pool.toml");
    for round in ["one", "two"] {
        answer_exchange(&mock, "acct-twice", round);
        let (tokens, status, _) = browser(&mock, &format!("code-{round}")).await;
        assert_eq!(status, 200);
        let dest = Destination::resolve(&config_path, "twice").unwrap();
        assert_eq!(dest.listed, round == "two");
        assert_eq!(
            dest.store(&login::auth_file(&tokens.unwrap())).unwrap(),
            round == "one"
        );
    }
    let text = std::fs::read_to_string(&config_path).unwrap();
    assert_eq!(count_accounts(&text), 1, "{text}");
    assert_eq!(
        mode(&config_path),
        0o600,
        "a config created by login is private"
    );
    let config = Config::load(&config_path).unwrap();
    let auth_file = &config.account("twice").unwrap().auth_file;
    let saved: Value = serde_json::from_slice(&std::fs::read(auth_file).unwrap()).unwrap();
    assert_eq!(
        saved["tokens"]["refresh_token"], "rt-two",
        "the second login replaces the first"
    );
}

#[tokio::test]
async fn a_callback_with_the_wrong_state_is_refused_and_the_login_keeps_waiting() {
    let mock = Mock::start().await;
    let flow = start_browser(&mock).await;
    for forged in [
        vec![("code", "code-x"), ("state", "forged")],
        vec![("code", "code-x")],
        vec![("error", "access_denied"), ("state", "forged")],
        vec![("error", "access_denied")],
    ] {
        assert_eq!(call_back(&flow, &forged).await, 400, "{forged:?}");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !flow.task.is_finished(),
        "a forged callback ended the login"
    );
    assert!(
        mock.token_calls().is_empty(),
        "no code exchange on a state mismatch"
    );
    answer_exchange(&mock, "acct-real", "real");
    let status = call_back(&flow, &[("code", "code-real"), ("state", &flow.state)]).await;
    assert_eq!(status, 200);
    let tokens = flow.task.await.unwrap().unwrap();
    assert_eq!(tokens.refresh_token.expose(), "rt-real");
    let calls = mock.token_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["code"], "code-real");
}

#[tokio::test]
async fn an_error_with_the_right_state_ends_the_login() {
    let mock = Mock::start().await;
    let flow = start_browser(&mock).await;
    let params = [
        ("error", "access_denied"),
        ("error_description", "the user said no"),
        ("state", &flow.state),
    ];
    assert_eq!(call_back(&flow, &params).await, 400);
    let err = flow.task.await.unwrap().err().unwrap();
    assert!(
        err.contains("access_denied") && err.contains("the user said no"),
        "{err}"
    );
    assert!(mock.token_calls().is_empty());
}

#[tokio::test]
async fn device_login_polls_until_approved_then_exchanges() {
    let mock = Mock::start().await;
    mock.device_pending(2);
    answer_exchange(&mock, "acct-device", "device");
    let (opts, mut prompts) = options(&mock.url());
    let tokens = login::device_login(&opts).await.unwrap();
    assert_eq!(tokens.refresh_token.expose(), "rt-device");
    assert_eq!(
        prompts.recv().await,
        Some(Prompt::Device {
            url: format!("{}/codex/device", mock.url()),
            code: "ABCD-EFGH".into()
        })
    );

    let seen = mock.seen();
    let usercode: Vec<_> = seen
        .iter()
        .filter(|s| s.path == "/api/accounts/deviceauth/usercode")
        .collect();
    assert_eq!(usercode.len(), 1);
    assert_eq!(
        usercode[0].body,
        json!({"client_id": "app_EMoamEEZ73f0CkXaXp7hrann"})
    );
    let polls: Vec<_> = seen
        .iter()
        .filter(|s| s.path == "/api/accounts/deviceauth/token")
        .collect();
    assert_eq!(polls.len(), 3, "two pending polls, then success");
    assert_eq!(
        polls[0].body,
        json!({"device_auth_id": "dev-123", "user_code": "ABCD-EFGH"})
    );

    let calls = mock.token_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["grant_type"], "authorization_code");
    assert_eq!(calls[0]["code"], "dev-auth-code");
    assert_eq!(calls[0]["code_verifier"], "dev-verifier");
    assert_eq!(calls[0]["client_id"], "app_EMoamEEZ73f0CkXaXp7hrann");
    assert_eq!(
        calls[0]["redirect_uri"],
        format!("{}/deviceauth/callback", mock.url())
    );
}
