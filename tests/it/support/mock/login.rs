//! Fake Codex logins: unsigned JWTs and the `auth.json` the Codex CLI writes,
//! for the integration tests and for `mock_upstream --write-login` (the
//! client checks and the SDK tests). The gateway never checks a signature:
//! the issuer is the mock.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

/// An unsigned JWT with this payload.
pub fn jwt(payload: &Value) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.sig",
        b64.encode(br#"{"alg":"none"}"#),
        b64.encode(payload.to_string())
    )
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// An access token (JWT) tagged `tag` that expires `secs` from now.
pub fn access_token(tag: &str, secs: i64) -> String {
    jwt(&json!({"exp": now() as i64 + secs, "tag": tag}))
}

/// A Codex `auth.json` whose account id is `account_id` (email
/// `<account_id>@example.com`, plan plus).
pub fn auth_json(account_id: &str, access: &str, refresh: &str) -> Value {
    json!({
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": null,
        "tokens": {
            "id_token": jwt(&json!({"email": format!("{account_id}@example.com"),
                "https://api.openai.com/auth": {"chatgpt_account_id": account_id, "chatgpt_plan_type": "plus"}})),
            "access_token": access,
            "refresh_token": refresh,
            "account_id": account_id,
        },
        "last_refresh": "2026-11-01T00:00:00Z"
    })
}

/// Writes `auth_json` to `path` with mode 0600 (what the gateway demands).
pub fn write(path: &Path, account_id: &str, access: &str, refresh: &str) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(&auth_json(account_id, access, refresh))?;
    std::fs::write(path, text)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}
