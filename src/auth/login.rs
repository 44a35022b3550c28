//! Logging in to ChatGPT as the Codex CLI does (docs/upstream.md §6), and where a login goes.
//!
//! Two flows return `Tokens`: `browser_login` (PKCE, with a one-shot callback
//! server on 127.0.0.1:1455, else :1457) and `device_login` (a user code typed
//! into a browser elsewhere). `auth_file` turns tokens into a Codex `auth.json`;
//! `Destination` writes it (0600, atomic) and lists the account in the config.
//! Printing belongs to `crate::cli::login`: the flows only call
//! `LoginOptions::prompt`. No token ever reaches a message or an error.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use hyper::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::file::{AuthFile, TokenData};
use super::jwt;
use super::{CLIENT_ID, ORIGINATOR};
use crate::secret::Secret;

mod browser;
mod destination;
mod device;
mod pending;

pub use browser::browser_login;
pub use destination::Destination;
pub use device::{device_login, request_device_code, DeviceCode};
pub use pending::{LoginState, Pending};

/// The callback ports registered for the Codex client, in the order to try.
pub const CALLBACK_PORTS: [u16; 2] = [1455, 1457];
pub const SCOPE: &str = "openid profile email offline_access";

/// What a successful login yields.
#[derive(Debug, Clone, Deserialize)]
pub struct Tokens {
    pub id_token: Secret<String>,
    pub access_token: Secret<String>,
    pub refresh_token: Secret<String>,
}

/// A PKCE pair: `challenge` = base64url(SHA-256(`verifier`)), both unpadded.
#[derive(Debug, Clone)]
pub struct Pkce {
    pub verifier: Secret<String>,
    pub challenge: String,
}

impl Pkce {
    /// A fresh verifier from 64 random bytes.
    pub fn new() -> Result<Pkce, String> {
        let verifier = b64(&random::<64>()?);
        Ok(Pkce {
            challenge: challenge(&verifier),
            verifier: Secret::new(verifier),
        })
    }
}

/// The S256 challenge of a verifier.
pub fn challenge(verifier: &str) -> String {
    b64(&Sha256::digest(verifier.as_bytes()))
}

/// A fresh `state` (32 random bytes, base64url).
pub fn new_state() -> Result<String, String> {
    Ok(b64(&random::<32>()?))
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn random<const N: usize>() -> Result<[u8; N], String> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for the login: {e}"))?;
    Ok(bytes)
}

/// `{issuer}/oauth/authorize?…` with the Codex CLI's parameters, in its order.
pub fn authorize_url(issuer: &str, redirect_uri: &str, challenge: &str, state: &str) -> String {
    let params = [
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect_uri),
        ("scope", SCOPE),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("id_token_add_organizations", "true"),
        ("codex_cli_simplified_flow", "true"),
        ("state", state),
        ("originator", ORIGINATOR),
    ];
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", percent(v)))
        .collect();
    format!(
        "{}/oauth/authorize?{}",
        issuer.trim_end_matches('/'),
        query.join("&")
    )
}

/// Percent-encoding with spaces as `%20`, as the Codex CLI sends them.
fn percent(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Exchanges an authorization code: `POST {issuer}/oauth/token`, form-encoded.
pub async fn exchange_code(
    http: &reqwest::Client,
    issuer: &str,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> Result<Tokens, String> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("client_id", CLIENT_ID)
        .append_pair("code_verifier", verifier)
        .finish();
    let url = format!("{}/oauth/token", issuer.trim_end_matches('/'));
    let req = http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    let (status, bytes) = send(req, &url).await?;
    if !status.is_success() {
        return Err(format!(
            "{url} refused the code exchange (HTTP {}): {}",
            status.as_u16(),
            issuer_error(&bytes)
        ));
    }
    serde_json::from_slice(&bytes).map_err(|_| {
        format!("{url} answered the code exchange without id_token, access_token and refresh_token")
    })
}

async fn send(req: reqwest::RequestBuilder, url: &str) -> Result<(StatusCode, Bytes), String> {
    let resp = req
        .send()
        .await
        .map_err(|e| format!("cannot reach {url}: {}", root_cause(&e)))?;
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| format!("cannot read the answer of {url}: {}", root_cause(&e)))?;
    Ok((status, bytes))
}

/// The innermost cause of an error ("connection refused", not "error sending request").
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// The issuer's error code and description (never a whole body: keep it short).
fn issuer_error(bytes: &[u8]) -> String {
    let v: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let code = text(&v["error"])
        .or_else(|| text(&v["error"]["code"]))
        .or_else(|| text(&v["detail"]));
    let description = text(&v["error_description"]).or_else(|| text(&v["error"]["message"]));
    let mut out = match (code, description) {
        (Some(c), Some(d)) => format!("{c}: {d}"),
        (Some(c), None) => c,
        (None, Some(d)) => d,
        (None, None) => String::from_utf8_lossy(bytes).trim().to_string(),
    };
    if out.chars().count() > 200 {
        out = out.chars().take(200).collect::<String>() + "…";
    }
    if out.is_empty() {
        "(empty answer)".into()
    } else {
        out
    }
}

/// What the flows need; `new` gives the Codex CLI's defaults, tests shorten them.
pub struct LoginOptions {
    /// The issuer base URL, without a trailing slash.
    pub issuer: String,
    pub http: reqwest::Client,
    /// Callback ports to try in order (tests pass `[0]`).
    pub ports: Vec<u16>,
    /// Try to open a browser on the authorize URL (when one seems available).
    pub open_browser: bool,
    /// How long the browser flow waits for the callback.
    pub timeout: Duration,
    /// How long the device flow polls before giving up.
    pub device_timeout: Duration,
    /// Overrides the issuer's device poll interval.
    pub poll_interval: Option<Duration>,
    /// Told what the user has to do (the URL to open, the code to type).
    pub prompt: Arc<dyn Fn(&Prompt) + Send + Sync>,
}

/// What the user must do to finish a login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// Open `url`; the browser comes back to `redirect_uri`.
    Browser { url: String, redirect_uri: String },
    /// Open `url` and enter `code`.
    Device { url: String, code: String },
}

impl LoginOptions {
    pub fn new(
        issuer: &str,
        prompt: Arc<dyn Fn(&Prompt) + Send + Sync>,
    ) -> Result<LoginOptions, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            // The code and verifier go to the issuer and nowhere else.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the http client: {e}"))?;
        Ok(LoginOptions {
            issuer: issuer.trim_end_matches('/').to_string(),
            http,
            ports: CALLBACK_PORTS.to_vec(),
            open_browser: true,
            timeout: Duration::from_secs(10 * 60),
            device_timeout: Duration::from_secs(15 * 60),
            poll_interval: None,
            prompt,
        })
    }
}

/// A Codex `auth.json` for fresh tokens; `account_id` comes from the claims.
pub fn auth_file(tokens: &Tokens) -> AuthFile {
    let claims = |t: &Secret<String>| jwt::decode(t.expose()).unwrap_or_default();
    let account_id = claims(&tokens.id_token)
        .auth
        .chatgpt_account_id
        .or_else(|| claims(&tokens.access_token).auth.chatgpt_account_id);
    AuthFile {
        auth_mode: Some("chatgpt".into()),
        openai_api_key: None,
        tokens: Some(TokenData {
            id_token: tokens.id_token.clone(),
            access_token: tokens.access_token.clone(),
            refresh_token: tokens.refresh_token.clone(),
            account_id,
            extra: Default::default(),
        }),
        last_refresh: Some(crate::clock::rfc3339_now()),
        extra: Default::default(),
    }
}
