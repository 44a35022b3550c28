//! The device-code flow, for machines without a browser: a user code typed in
//! elsewhere, polled until approved, then the same code exchange as the browser flow.

use std::time::Duration;

use hyper::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::time::Instant;

use super::{exchange_code, issuer_error, send, LoginOptions, Prompt, Tokens};
use crate::auth::CLIENT_ID;
use crate::secret::Secret;

/// A device code to show the user.
#[derive(Debug, Clone)]
pub struct DeviceCode {
    pub device_auth_id: String,
    pub user_code: String,
    pub interval: Duration,
}

#[derive(Deserialize)]
struct DeviceGrant {
    authorization_code: Secret<String>,
    code_verifier: Secret<String>,
}

/// The device flow: get a code, prompt, poll until approved, exchange.
pub async fn device_login(opts: &LoginOptions) -> Result<Tokens, String> {
    let code = request_device_code(&opts.http, &opts.issuer).await?;
    (opts.prompt)(&Prompt::Device {
        url: format!("{}/codex/device", opts.issuer),
        code: code.user_code.clone(),
    });
    let interval = opts.poll_interval.unwrap_or(code.interval);
    let grant = poll_device_code(
        &opts.http,
        &opts.issuer,
        &code,
        interval,
        opts.device_timeout,
    )
    .await?;
    let redirect_uri = format!("{}/deviceauth/callback", opts.issuer);
    exchange_code(
        &opts.http,
        &opts.issuer,
        grant.authorization_code.expose(),
        &redirect_uri,
        grant.code_verifier.expose(),
    )
    .await
}

/// `POST {issuer}/api/accounts/deviceauth/usercode`.
pub async fn request_device_code(
    http: &reqwest::Client,
    issuer: &str,
) -> Result<DeviceCode, String> {
    let url = format!("{issuer}/api/accounts/deviceauth/usercode");
    let req = http
        .post(&url)
        .header("content-type", "application/json")
        .body(json!({ "client_id": CLIENT_ID }).to_string());
    let (status, bytes) = send(req, &url).await?;
    if status == StatusCode::NOT_FOUND {
        return Err(format!("{url} does not exist: this issuer offers no device-code login; log in without --device"));
    }
    if !status.is_success() {
        return Err(format!(
            "{url} refused a device code (HTTP {}): {}",
            status.as_u16(),
            issuer_error(&bytes)
        ));
    }
    let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let field = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let (Some(device_auth_id), Some(user_code)) = (
        field("device_auth_id"),
        field("user_code").or_else(|| field("usercode")),
    ) else {
        return Err(format!(
            "{url} answered without device_auth_id and user_code"
        ));
    };
    let interval = match &v["interval"] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|&s| s > 0)
    .unwrap_or(5);
    Ok(DeviceCode {
        device_auth_id,
        user_code,
        interval: Duration::from_secs(interval),
    })
}

/// Polls `POST {issuer}/api/accounts/deviceauth/token` until the user approves
/// (403/404 mean "not yet") or `give_up_after` passes.
async fn poll_device_code(
    http: &reqwest::Client,
    issuer: &str,
    code: &DeviceCode,
    interval: Duration,
    give_up_after: Duration,
) -> Result<DeviceGrant, String> {
    let url = format!("{issuer}/api/accounts/deviceauth/token");
    let body =
        json!({ "device_auth_id": code.device_auth_id, "user_code": code.user_code }).to_string();
    let deadline = Instant::now() + give_up_after;
    loop {
        let req = http
            .post(&url)
            .header("content-type", "application/json")
            .body(body.clone());
        let (status, bytes) = send(req, &url).await?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|_| {
                format!("{url} answered without authorization_code and code_verifier")
            });
        }
        if !matches!(status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND) {
            return Err(format!(
                "{url} failed (HTTP {}): {}",
                status.as_u16(),
                issuer_error(&bytes)
            ));
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(format!(
                "code {} was not entered within {}; run the command again",
                code.user_code,
                humantime::format_duration(give_up_after)
            ));
        }
        tokio::time::sleep(interval.min(deadline - now)).await;
    }
}
