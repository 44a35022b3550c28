//! `codex-pool accounts`: the accounts table.
//!
//! From the running server when its admin API answers (state and quota as the
//! pool sees them), else from the auth files (state is only "can the login be
//! read"; quota is unknown). The first line says which source was used.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::{file, login};
use crate::clock;
use crate::config::Config;
use crate::secret::Secret;

/// One line of the table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Row {
    name: String,
    email: String,
    plan: String,
    account_id: String,
    expires: String,
    state: String,
    used: String,
    resets: String,
}

const HEADER: [&str; 8] = [
    "NAME",
    "EMAIL",
    "PLAN",
    "ACCOUNT ID",
    "ACCESS TOKEN EXPIRES",
    "STATE",
    "QUOTA USED",
    "RESETS",
];

pub(super) async fn accounts(config_path: &Path) -> Result<(), String> {
    let config = Config::load(config_path).map_err(|e| e.to_string())?;
    let now = clock::unix_now();
    let (source, rows) = match from_admin(&config, now).await {
        Ok((url, rows)) => (format!("source: the running server ({url})"), rows),
        Err(why) => (
            format!("source: the auth files ({why})"),
            from_files(&config, now),
        ),
    };
    println!("{source}");
    if rows.is_empty() {
        println!("no accounts in {}", config_path.display());
        return Ok(());
    }
    print!("{}", table(&rows));
    Ok(())
}

/// The server's view, or why it could not be had.
async fn from_admin(config: &Config, now: i64) -> Result<(String, Vec<Row>), String> {
    let token = bearer(config, std::env::var(TOKEN_ENV).ok())?;
    let url = format!("http://{}/admin/accounts", reachable(config.server.listen));
    let http = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| format!("cannot build the http client: {e}"))?;
    let resp = http
        .get(&url)
        .header("authorization", format!("Bearer {}", token.expose()))
        .send()
        .await
        .map_err(|e| {
            format!(
                "the server's admin API at {url} did not answer: {}",
                login::root_cause(&e)
            )
        })?;
    let status = resp.status().as_u16();
    if status == 401 {
        return Err(format!("{url} refused the admin token of the config"));
    }
    if status != 200 {
        return Err(format!("{url} answered HTTP {status}"));
    }
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| format!("cannot read the answer of {url}: {}", login::root_cause(&e)))?;
    let body: Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{url} answered with invalid JSON: {e}"))?;
    let Some(list) = body.get("accounts").and_then(Value::as_array) else {
        return Err(format!("{url} answered without an accounts list"));
    };
    let rows = list.iter().map(|a| admin_row(a, now)).collect();
    Ok((url, rows))
}

/// Where `accounts` finds the admin token when the config holds only its digest.
pub(super) const TOKEN_ENV: &str = "CODEX_POOL_ADMIN_TOKEN";

/// The admin token to present: the config's own, else `$CODEX_POOL_ADMIN_TOKEN`
/// when `[admin]` gives only `token_sha256` (checked against it first, so a
/// wrong one is never sent).
pub(super) fn bearer(config: &Config, env: Option<String>) -> Result<Secret<String>, String> {
    let Some(admin) = config.admin_token.as_ref() else {
        return Err("no [admin] token in the config, so the running server was not asked".into());
    };
    if let Some(clear) = &admin.clear {
        return Ok(clear.clone());
    }
    let Some(token) = env.filter(|t| !t.is_empty()) else {
        return Err(format!(
            "[admin] gives only token_sha256, and a digest cannot authenticate: set {TOKEN_ENV} to the admin token to ask the running server"
        ));
    };
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    if !bool::from(digest.ct_eq(&admin.sha256)) {
        return Err(format!(
            "{TOKEN_ENV} does not match [admin] token_sha256, so the running server was not asked"
        ));
    }
    Ok(Secret::new(token))
}

/// Where to reach a listen address from this machine (0.0.0.0 → 127.0.0.1).
pub(super) fn reachable(listen: SocketAddr) -> SocketAddr {
    match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), listen.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), listen.port())
        }
        _ => listen,
    }
}

fn admin_row(a: &Value, now: i64) -> Row {
    let text = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("-").to_string();
    let state = match a.get("reason").and_then(Value::as_str) {
        Some(reason) if !reason.is_empty() => format!("{}: {reason}", text("state")),
        _ => text("state"),
    };
    let windows: Vec<(&str, &Value)> = [("primary", "primary"), ("secondary", "secondary")]
        .into_iter()
        .filter_map(|(key, fallback)| {
            let w = a.get("quota")?.get(key)?;
            w.is_object().then_some((fallback, w))
        })
        .collect();
    let (used, resets) = quota_cells(&windows, now);
    Row {
        name: text("name"),
        email: text("email"),
        plan: text("plan"),
        account_id: text("account_id"),
        expires: expiry(a.get("token_expires_at").and_then(Value::as_i64), now),
        state,
        used,
        resets,
    }
}

/// `5h 17%, 7d 4%` and `5h in 2h 10m, 7d in 3d 4h`.
fn quota_cells(windows: &[(&str, &Value)], now: i64) -> (String, String) {
    if windows.is_empty() {
        return ("-".into(), "-".into());
    }
    let mut used = Vec::new();
    let mut resets = Vec::new();
    for (fallback, w) in windows {
        let label = w
            .get("window_minutes")
            .and_then(Value::as_u64)
            .map(window_label)
            .unwrap_or_else(|| (*fallback).to_string());
        if let Some(p) = w.get("used_percent").and_then(Value::as_f64) {
            used.push(format!("{label} {p:.0}%"));
        }
        if let Some(at) = w.get("resets_at").and_then(Value::as_i64) {
            resets.push(format!("{label} {}", relative(at - now)));
        }
    }
    let join = |v: Vec<String>| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(", ")
        }
    };
    (join(used), join(resets))
}

/// 300 → `5h`, 10080 → `7d`.
fn window_label(minutes: u64) -> String {
    match minutes {
        m if m >= 1440 && m % 1440 == 0 => format!("{}d", m / 1440),
        m if m >= 60 && m % 60 == 0 => format!("{}h", m / 60),
        m => format!("{m}m"),
    }
}

/// What the files say: a login that loads is "ready".
fn from_files(config: &Config, now: i64) -> Vec<Row> {
    config
        .accounts
        .iter()
        .map(|a| match file::load_credentials(&a.auth_file) {
            Ok((_, c)) => Row {
                name: a.name.clone(),
                email: c.email.unwrap_or_else(|| "-".into()),
                plan: c.plan.unwrap_or_else(|| "-".into()),
                account_id: c.account_id.unwrap_or_else(|| "-".into()),
                expires: expiry(c.expires_at, now),
                state: if a.enabled { "ready" } else { "disabled" }.into(),
                used: "-".into(),
                resets: "-".into(),
            },
            Err(e) => Row {
                name: a.name.clone(),
                email: "-".into(),
                plan: "-".into(),
                account_id: "-".into(),
                expires: "-".into(),
                state: format!("needs_relogin: {e}"),
                used: "-".into(),
                resets: "-".into(),
            },
        })
        .collect()
}

/// `2026-11-01T03:00:00Z (in 3h 5m)`, or `… (expired)`.
fn expiry(at: Option<i64>, now: i64) -> String {
    let Some(at) = at else { return "-".into() };
    let stamp = humantime::format_rfc3339_seconds(clock::from_unix(at));
    if at <= now {
        format!("{stamp} (expired)")
    } else {
        format!("{stamp} ({})", relative(at - now))
    }
}

/// `in 3h 5m`, `in 2d 4h`, `in 12m`, `in <1m`; `now` for the past.
fn relative(secs: i64) -> String {
    if secs <= 0 {
        return "now".into();
    }
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => "in <1m".into(),
        (0, 0, m) => format!("in {m}m"),
        (0, h, 0) => format!("in {h}h"),
        (0, h, m) => format!("in {h}h {m}m"),
        (d, 0, _) => format!("in {d}d"),
        (d, h, _) => format!("in {d}d {h}h"),
    }
}

fn table(rows: &[Row]) -> String {
    let cells = |r: &Row| -> [String; 8] {
        [
            r.name.clone(),
            r.email.clone(),
            r.plan.clone(),
            r.account_id.clone(),
            r.expires.clone(),
            r.state.clone(),
            r.used.clone(),
            r.resets.clone(),
        ]
    };
    let mut lines: Vec<[String; 8]> = vec![HEADER.map(str::to_string)];
    lines.extend(rows.iter().map(cells));
    let mut widths = [0usize; 8];
    for line in &lines {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for line in &lines {
        let padded: Vec<String> = line
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(padded.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(admin: &str) -> Config {
        Config::parse(admin, Path::new("/tmp/config.toml"))
            .map_err(|e| e.to_string())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_digest_only_admin_needs_the_token_from_the_environment() {
        let clear = config("[admin]\ntoken = \"a-long-admin-token\"\n");
        let got = bearer(&clear, Some("ignored".into())).map(|t| t.expose().clone());
        assert_eq!(got.as_deref(), Ok("a-long-admin-token"));

        let hash = hex::encode(Sha256::digest(b"a-long-admin-token"));
        let hashed = config(&format!("[admin]\ntoken_sha256 = \"{hash}\"\n"));
        let why = bearer(&hashed, None).err().unwrap_or_default();
        assert!(
            why.contains("token_sha256") && why.contains(TOKEN_ENV),
            "{why}"
        );
        let got = bearer(&hashed, Some("a-long-admin-token".into())).map(|t| t.expose().clone());
        assert_eq!(got.as_deref(), Ok("a-long-admin-token"));
        let why = bearer(&hashed, Some("wrong".into()))
            .err()
            .unwrap_or_default();
        assert!(why.contains("does not match"), "{why}");
        assert!(bearer(&config(""), None).is_err());
    }

    #[test]
    fn relative_times_are_coarse() {
        assert_eq!(relative(3 * 3600 + 5 * 60 + 7), "in 3h 5m");
        assert_eq!(relative(3 * 3600), "in 3h");
        assert_eq!(relative(2 * 86_400 + 4 * 3600), "in 2d 4h");
        assert_eq!(relative(30), "in <1m");
        assert_eq!(relative(-5), "now");
        assert!(expiry(Some(100), 200).ends_with("(expired)"));
    }

    #[test]
    fn admin_rows_show_state_reason_and_quota() {
        let a = json!({"name": "work", "email": "w@example.com", "plan": "pro", "account_id": "acc-1",
            "state": "cooling", "reason": "rate_limited", "token_expires_at": 1_000 + 3 * 3600,
            "quota": {"primary": {"used_percent": 17.0, "window_minutes": 300, "resets_at": 1_000 + 7200},
                      "secondary": {"used_percent": 4.4, "window_minutes": 10080}}});
        let row = admin_row(&a, 1_000);
        assert_eq!(row.state, "cooling: rate_limited");
        assert_eq!(row.used, "5h 17%, 7d 4%");
        assert_eq!(row.resets, "5h in 2h");
        assert!(row.expires.ends_with("(in 3h)"), "{}", row.expires);
        let bare = admin_row(&json!({"name": "x", "state": "ready", "quota": null}), 0);
        assert_eq!(
            (
                bare.used.as_str(),
                bare.resets.as_str(),
                bare.email.as_str()
            ),
            ("-", "-", "-")
        );
    }
}
