//! Reading usage over HTTP: `GET /admin/usage` (every key, JSON or CSV; the
//! admin token, checked by `admin.rs`) and `GET /v1/usage` (a client key's
//! own usage, limits and what is left of its budgets; nothing of other keys
//! or of accounts).
//!
//! Rows come from the shared store when `[store]` is set (the team's totals),
//! else, or while the store does not answer, from this gateway's SQLite file.

use std::sync::Arc;

use http::{HeaderMap, Response, StatusCode};
use serde_json::{json, Value};

use super::body::{self, Body};
use super::error::{ApiError, Code};
use crate::app::App;
use crate::keys::ClientKey;
use crate::usage::db::Db;
use crate::usage::query::{self, By};
use crate::usage::{Counts, Slot};

/// A query's window and grouping, from `since=&until=&by=`.
struct Window {
    since: i64,
    until: i64,
    by: Vec<By>,
}

fn param<'a>(query: &'a str, name: &str) -> Option<std::borrow::Cow<'a, str>> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| percent_encoding::percent_decode_str(v).decode_utf8_lossy())
    })
}

fn window(query: &str, default_since: &str, default_by: &str) -> Result<Window, ApiError> {
    let now = crate::clock::unix_now();
    let bad = |name: &str, e: String| ApiError::new(Code::InvalidRequest, e).with_param(name);
    let since = param(query, "since").unwrap_or(default_since.into());
    let since = query::parse_time(&since, now).map_err(|e| bad("since", e))?;
    let until = match param(query, "until") {
        Some(u) => query::parse_time(&u, now).map_err(|e| bad("until", e))?,
        None => now + 1,
    };
    let by = param(query, "by").unwrap_or(default_by.into());
    let by = query::parse_by(&by).map_err(|e| bad("by", e))?;
    Ok(Window { since, until, by })
}

/// The rollup rows of hours in `[since, until)`, of `key` only when given.
pub(super) async fn read_rows(
    app: &App,
    since: i64,
    until: i64,
    key: Option<&str>,
) -> Result<Vec<(Slot, Counts)>, ApiError> {
    let w = Window {
        since,
        until,
        by: Vec::new(),
    };
    rows(app, &w, key).await
}

/// The rollup rows of `w`, of `key` only when given: the store's, else SQLite's.
async fn rows(app: &App, w: &Window, key: Option<&str>) -> Result<Vec<(Slot, Counts)>, ApiError> {
    // Whole hours: a row's hour starts at or after `since`'s hour.
    let since = w.since - w.since.rem_euclid(3600);
    if let Some(store) = &app.store {
        match store.usage_rows(since, w.until, key).await {
            Ok(rows) => return Ok(rows),
            Err(_) => tracing::debug!("store unavailable; usage read from this gateway's file"),
        }
    }
    let Some(path) = app.snapshot().config.usage.path.clone() else {
        return Ok(Vec::new());
    };
    if !path.exists() {
        return Ok(Vec::new());
    }
    let (until, key) = (w.until, key.map(str::to_owned));
    let read = tokio::task::spawn_blocking(move || {
        Db::open_read(&path)?.rows(since, until, key.as_deref())
    })
    .await;
    match read {
        Ok(Ok(rows)) => Ok(rows),
        Ok(Err(e)) => Err(ApiError::with_status(
            StatusCode::SERVICE_UNAVAILABLE,
            Code::InternalError,
            format!("cannot read the usage store: {e}"),
        )),
        Err(_) => Err(ApiError::internal("the usage read failed")),
    }
}

fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv"))
}

/// `GET /admin/usage?since=&until=&by=`.
pub(super) async fn admin(app: &Arc<App>, query: &str, headers: &HeaderMap) -> Response<Body> {
    let w = match window(query, "7d", "key,model,day") {
        Ok(w) => w,
        Err(e) => return e.into_response(),
    };
    let rows = match rows(app, &w, None).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let groups = query::group(&rows, &w.by);
    if wants_csv(headers) || param(query, "format").as_deref() == Some("csv") {
        let mut r = Response::new(body::full(query::to_csv(&w.by, &groups)));
        let h = r.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        h.insert(
            http::header::CONTENT_DISPOSITION,
            http::HeaderValue::from_static("attachment; filename=\"codex-pool-usage.csv\""),
        );
        return r;
    }
    body::json(
        StatusCode::OK,
        &query::to_json(w.since, w.until, &w.by, &groups),
    )
}

/// `GET /v1/usage` for `key`: its limits, what it spent this hour and day
/// and what is left, and its usage by day and model (30 days unless `since`).
pub(super) async fn own(app: &Arc<App>, key: &Arc<ClientKey>, query: &str) -> Response<Body> {
    let w = match window(query, "30d", "day,model") {
        Ok(w) => w,
        Err(e) => return e.into_response(),
    };
    let w = Window {
        by: w
            .by
            .into_iter()
            .filter(|b| *b != By::Key && *b != By::Account)
            .collect(),
        ..w
    };
    let rows = match rows(app, &w, Some(key.name())).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let groups = query::group(&rows, &w.by);
    let c = &key.config;
    let [(hour, hour_resets), (day, day_resets)] = key.spent();
    let left = |limit: Option<u64>, spent: u64| limit.map(|l| l.saturating_sub(spent));
    let mut answer = query::to_json(w.since, w.until, &w.by, &groups);
    let extra: Value = json!({
        "key": key.name(),
        "limits": {
            "requests_per_minute": c.requests_per_minute,
            "tokens_per_hour": c.tokens_per_hour,
            "tokens_per_day": c.tokens_per_day,
            "models": c.models,
        },
        "spent": {
            "hour": {"tokens": hour, "resets_in_seconds": hour_resets},
            "day": {"tokens": day, "resets_in_seconds": day_resets},
        },
        "left": {
            "tokens_this_hour": left(c.tokens_per_hour, hour),
            "tokens_today": left(c.tokens_per_day, day),
        },
    });
    if let (Some(a), Value::Object(b)) = (answer.as_object_mut(), extra) {
        a.extend(b);
    }
    body::json(StatusCode::OK, &answer)
}
