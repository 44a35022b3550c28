//! What only the console does, beside the admin API it calls: the keys view
//! (usage against limits; create a key, its secret shown once and only its
//! hash written to the config; revoke one), adding an account (device-code
//! login run by the gateway, or an uploaded `auth.json`), and the activity
//! tail (the access log's recent records).
//!
//! Config changes go through the same code as the CLI (`config::edit`,
//! `auth::login::Destination`), then a reload, so the change is live at once.

use std::sync::Arc;

use http::{Method, Response, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::auth::file::AuthFile;
use crate::auth::login::{self, Destination, LoginOptions, LoginState, Prompt};
use crate::server::body::{self, Body};
use crate::server::error::{ApiError, Code};

pub(super) async fn handle(
    app: &Arc<App>,
    method: &Method,
    path: &str,
    query: &str,
    body: Value,
) -> Response<Body> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let name = || body["name"].as_str().unwrap_or("").trim().to_string();
    let done = match (method, parts.as_slice()) {
        (&Method::GET, ["keys"]) => Ok(keys(app).await),
        (&Method::POST, ["keys"]) => create_key(app, &name()).await,
        (&Method::POST, ["keys", key, "revoke"]) => revoke_key(app, key).await,
        (&Method::GET, ["recent"]) => Ok(recent(app, query)),
        (&Method::GET, ["logins"]) => Ok(json!({"logins": app.logins.all()})),
        (&Method::POST, ["accounts", "login"]) => start_login(app, &name()),
        (&Method::POST, ["accounts", "import"]) => {
            import(app, &name(), body["auth_json"].as_str().unwrap_or("")).await
        }
        _ => Err(ApiError::not_found(&format!("/console/api{path}"))),
    };
    match done {
        Ok(v) => body::json(StatusCode::OK, &v),
        Err(e) => e.into_response(),
    }
}

fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::with_status(StatusCode::CONFLICT, Code::InvalidRequest, message.into())
}

/// The config file the console changes (none for the built-in solo setup).
fn config_path(app: &App) -> Result<std::path::PathBuf, ApiError> {
    app.snapshot()
        .config
        .path
        .clone()
        .ok_or_else(|| conflict("this gateway runs without a config file; nothing can be written"))
}

async fn reload(app: &Arc<App>) -> Result<(), ApiError> {
    crate::reload::reload(app, "console")
        .await
        .map(|_| ())
        .map_err(|e| conflict(format!("the config was changed but does not load: {e}")))
}

/// Per key: limits, tokens spent this hour and today, requests today and
/// this hour, last use.
async fn keys(app: &Arc<App>) -> Value {
    let snap = app.snapshot();
    let now = crate::clock::unix_now();
    let (day, hour) = (now - now.rem_euclid(86_400), now - now.rem_euclid(3600));
    let rows = crate::server::usage::read_rows(app, day, now + 1, None)
        .await
        .unwrap_or_default();
    let recent = app.usage.recent(500);
    let list: Vec<Value> = snap
        .keys
        .iter()
        .map(|k| {
            let mine = rows.iter().filter(|(s, _)| s.key == k.name());
            let (mut today, mut this_hour) = (0u64, 0u64);
            for (s, c) in mine {
                today += c.requests;
                if s.hour >= hour {
                    this_hour += c.requests;
                }
            }
            let [(spent_hour, _), (spent_day, _)] = k.spent();
            let c = &k.config;
            json!({
                "name": k.name(),
                "requests_today": today,
                "requests_this_hour": this_hour,
                "tokens_today": spent_day,
                "tokens_this_hour": spent_hour,
                "tokens_per_hour": c.tokens_per_hour,
                "tokens_per_day": c.tokens_per_day,
                "requests_per_minute": c.requests_per_minute,
                "models": c.models,
                "accounts": c.accounts,
                "last_used": recent.iter().find(|r| r.key.as_deref() == Some(k.name())).map(|r| r.time.clone()),
            })
        })
        .collect();
    json!({"keys": list, "writable": snap.config.path.is_some()})
}

async fn create_key(app: &Arc<App>, name: &str) -> Result<Value, ApiError> {
    if !crate::config::valid_name(name) {
        return Err(ApiError::new(
            Code::InvalidRequest,
            format!("key name {name:?} {}", crate::config::NAME_RULE),
        ));
    }
    let path = config_path(app)?;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(format!("no randomness: {e}")))?;
    let secret = format!("sk-pool-{}", hex::encode(bytes));
    let hash = hex::encode(Sha256::digest(secret.as_bytes()));
    let owned = name.to_string();
    tokio::task::spawn_blocking(move || crate::config::edit::add_api_key(&path, &owned, &hash))
        .await
        .map_err(|_| ApiError::internal("the config write failed"))?
        .map_err(conflict)?;
    reload(app).await?;
    tracing::info!(key = name, "client key created from the console");
    Ok(json!({"name": name, "key": secret}))
}

async fn revoke_key(app: &Arc<App>, name: &str) -> Result<Value, ApiError> {
    let name = percent_encoding::percent_decode_str(name)
        .decode_utf8_lossy()
        .to_string();
    let keys = &app.snapshot().keys;
    if keys.len() == 1 && keys[0].name() == name {
        // With no keys left the gateway would answer anyone on its listener.
        return Err(conflict(format!(
            "{name:?} is the last client key; without keys the gateway needs none: add another first"
        )));
    }
    let path = config_path(app)?;
    let owned = name.clone();
    tokio::task::spawn_blocking(move || crate::config::edit::remove_api_key(&path, &owned))
        .await
        .map_err(|_| ApiError::internal("the config write failed"))?
        .map_err(conflict)?;
    reload(app).await?;
    tracing::info!(key = %name, "client key revoked from the console");
    Ok(json!({"revoked": name}))
}

/// The newest access-log records, `?limit=` (100) at most.
fn recent(app: &App, query: &str) -> Value {
    let limit = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("limit="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(100usize)
        .min(500);
    let recent = app.usage.recent(limit);
    let records: Vec<&crate::usage::Record> = recent.iter().map(|r| &**r).collect();
    json!({ "records": records })
}

/// Starts a device-code login of `account`; the page polls `/logins`.
fn start_login(app: &Arc<App>, account: &str) -> Result<Value, ApiError> {
    let path = config_path(app)?;
    let dest =
        Destination::resolve(&path, account).map_err(|e| ApiError::new(Code::InvalidRequest, e))?;
    let (task_app, name) = (Arc::clone(app), account.to_string());
    let run = async move {
        let result = device_login(&task_app, &name, dest).await;
        let state = match result {
            Ok(()) => LoginState::Done,
            Err(error) => LoginState::Failed { error },
        };
        task_app.logins.set(&name, state);
    };
    if !app.logins.start(account, run) {
        return Err(conflict(format!(
            "a login of {account:?} is already running"
        )));
    }
    Ok(json!({"started": account}))
}

async fn device_login(app: &Arc<App>, name: &str, dest: Destination) -> Result<(), String> {
    let (prompt_app, prompt_name) = (Arc::clone(app), name.to_string());
    let prompt = Arc::new(move |p: &Prompt| {
        if let Prompt::Device { url, code } = p {
            let (url, code) = (url.clone(), code.clone());
            prompt_app
                .logins
                .set(&prompt_name, LoginState::Waiting { url, code });
        }
    });
    let opts = LoginOptions::new(&dest.issuer, prompt)?;
    let tokens = login::device_login(&opts).await?;
    let file = login::auth_file(&tokens);
    tokio::task::spawn_blocking(move || dest.store(&file))
        .await
        .map_err(|_| "storing the login failed".to_string())??;
    crate::reload::reload(app, "console")
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(account = name, "account added from the console");
    Ok(())
}

/// An uploaded Codex `auth.json` becomes `account`'s login.
async fn import(app: &Arc<App>, account: &str, text: &str) -> Result<Value, ApiError> {
    let bad = |m: String| ApiError::new(Code::InvalidRequest, m);
    let parsed: AuthFile = serde_json::from_str(text).map_err(|e| {
        bad(format!(
            "not a Codex auth.json (JSON error at line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let has_tokens = parsed.tokens.as_ref().is_some_and(|t| {
        !t.access_token.expose().is_empty() && !t.refresh_token.expose().is_empty()
    });
    if !has_tokens {
        return Err(bad("the file holds no ChatGPT login (no tokens)".into()));
    }
    let path = config_path(app)?;
    let dest = Destination::resolve(&path, account).map_err(bad)?;
    let bytes = text.as_bytes().to_vec();
    tokio::task::spawn_blocking(move || dest.store_bytes(&bytes))
        .await
        .map_err(|_| ApiError::internal("storing the login failed"))?
        .map_err(conflict)?;
    reload(app).await?;
    tracing::info!(account, "account imported from the console");
    Ok(json!({"imported": account}))
}
