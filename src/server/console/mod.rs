//! The console: a web page for the pool at `/console/`, its files built into
//! the binary (no CDN, nothing fetched from outside), and its API under
//! `/console/api/` — the admin API itself (`admin::dispatch`) plus what only
//! the console does (`actions.rs`: keys, logins from the page).
//!
//! Who may use it: with `[admin]` set, whoever entered the admin token once
//! (`POST /console/api/login`); the answer is a cookie (`HttpOnly`,
//! `SameSite=Strict`, `Secure` behind TLS) holding a digest of the token and
//! the time, never the token, valid `SESSION` long. On a loopback listener
//! with no admin token it is open to loopback, behind the browser guard. Off
//! loopback without a token there is no console. Every change (`POST`) must
//! come from the console's own origin.

mod actions;

use std::sync::Arc;
use std::time::Duration;

use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::body::{self, Body};
use super::error::{ApiError, Code};
use super::{admin, Shared};
use crate::app::Snapshot;

/// How long a console session lasts.
const SESSION: Duration = Duration::from_secs(12 * 3600);

const COOKIE: &str = "codex_pool_console";

/// The strictest policy the page works under: its own files, nothing inline.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const INDEX: &str = include_str!("../../../assets/console/index.html");
const SCRIPT: &str = include_str!("../../../assets/console/app.js");
const STYLE: &str = include_str!("../../../assets/console/app.css");

/// The largest body a console call may send (an uploaded `auth.json`).
const MAX_BODY: usize = 256 * 1024;

/// Whether `path` is the console's.
pub(super) fn owns(path: &str) -> bool {
    path == "/console" || path.starts_with("/console/")
}

pub(super) async fn route(shared: &Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let snap = shared.app.snapshot();
    let open = shared.loopback && snap.config.admin_token.is_none();
    if snap.config.admin_token.is_none() && !open {
        return ApiError::not_found(req.uri().path()).into_response();
    }
    let path = req.uri().path().to_string();
    match (req.method(), path.as_str()) {
        (&Method::GET, "/console") => redirect("/console/"),
        (&Method::GET, "/console/" | "/console/index.html") => {
            asset(INDEX, "text/html; charset=utf-8")
        }
        (&Method::GET, "/console/app.js") => asset(SCRIPT, "text/javascript; charset=utf-8"),
        (&Method::GET, "/console/app.css") => asset(STYLE, "text/css; charset=utf-8"),
        (_, p) if p.starts_with("/console/api/") => {
            let mut resp = api(shared, &snap, open, req, &path).await;
            secure_headers(resp.headers_mut());
            resp
        }
        _ => ApiError::not_found(&path).into_response(),
    }
}

async fn api(
    shared: &Arc<Shared>,
    snap: &Snapshot,
    open: bool,
    req: Request<Incoming>,
    path: &str,
) -> Response<Body> {
    let rest = &path["/console/api".len()..];
    if req.method() != Method::GET {
        if let Err(e) = same_origin(req.headers()) {
            return e.into_response();
        }
    }
    if (req.method(), rest) == (&Method::POST, "/login") {
        return login(snap, req).await;
    }
    if (req.method(), rest) == (&Method::POST, "/logout") {
        return session_cookie(json!({"ok": true}), "", Duration::ZERO, req.headers());
    }
    let admitted =
        open || has_session(snap, req.headers()) || admin::presents_token(snap, req.headers());
    if rest == "/session" {
        return body::json(
            StatusCode::OK,
            &json!({"authenticated": admitted, "open": open, "admin_api": snap.config.admin_token.is_some()}),
        );
    }
    if !admitted {
        return ApiError::unauthorized("the console needs the admin token: log in first")
            .into_response();
    }
    let app = &shared.app;
    if rest.starts_with("/admin/") {
        return admin::dispatch(app, req, rest).await;
    }
    let method = req.method().clone();
    let query = req.uri().query().unwrap_or("").to_string();
    let body = match read_json(req).await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    actions::handle(app, &method, rest, &query, body).await
}

/// A change must come from this console: its `Origin` names the host the
/// request was sent to (a foreign page cannot make a browser send that).
fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let forbidden = |why: &str| ApiError::new(Code::ForbiddenOrigin, why.to_string());
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| forbidden("console changes must carry the console's Origin"))?;
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin
        .split_once("://")
        .map_or("", |(_, h)| h.trim_end_matches('/'));
    if host.is_empty() || !origin_host.eq_ignore_ascii_case(host) {
        return Err(forbidden(
            "console changes are accepted from the console's own origin only",
        ));
    }
    Ok(())
}

/// The cookie value for a session issued at `issued` (unix seconds): the
/// time and a digest of it with the admin token's digest.
fn session_value(token_sha256: &[u8; 32], issued: i64) -> String {
    let mut h = Sha256::new();
    h.update(b"codex-pool console session\0");
    h.update(token_sha256);
    h.update(issued.to_be_bytes());
    format!("{issued}.{}", hex::encode(h.finalize()))
}

fn has_session(snap: &Snapshot, headers: &HeaderMap) -> bool {
    let Some(token) = snap.config.admin_token.as_ref() else {
        return false;
    };
    let now = crate::clock::unix_now();
    let life = i64::try_from(SESSION.as_secs()).unwrap_or(i64::MAX);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .any(|v| {
            let Some(issued) = v.split_once('.').and_then(|(t, _)| t.parse::<i64>().ok()) else {
                return false;
            };
            let fresh = issued <= now && now - issued < life;
            let want = session_value(&token.sha256, issued);
            fresh && bool::from(want.as_bytes().ct_eq(v.as_bytes()))
        })
}

/// `POST /console/api/login {"token": …}`: the cookie for a right token.
async fn login(snap: &Snapshot, req: Request<Incoming>) -> Response<Body> {
    let Some(admin) = snap.config.admin_token.as_ref() else {
        return body::json(StatusCode::OK, &json!({"ok": true, "open": true}));
    };
    let headers = req.headers().clone();
    let body = match read_json(req).await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let token = body["token"].as_str().unwrap_or("");
    let presented = Sha256::digest(token.as_bytes());
    if !bool::from(presented.as_slice().ct_eq(&admin.sha256)) {
        return ApiError::unauthorized("wrong admin token").into_response();
    }
    let value = session_value(&admin.sha256, crate::clock::unix_now());
    session_cookie(json!({"ok": true}), &value, SESSION, &headers)
}

fn session_cookie(
    answer: Value,
    value: &str,
    life: Duration,
    headers: &HeaderMap,
) -> Response<Body> {
    let tls = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let cookie = format!(
        "{COOKIE}={value}; Path=/console/; Max-Age={}; HttpOnly; SameSite=Strict{}",
        life.as_secs(),
        if tls { "; Secure" } else { "" }
    );
    let mut resp = body::json(StatusCode::OK, &answer);
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

async fn read_json(req: Request<Incoming>) -> Result<Value, ApiError> {
    let limited = http_body_util::Limited::new(req.into_body(), MAX_BODY);
    let bytes = limited
        .collect()
        .await
        .map_err(|_| ApiError::too_large(MAX_BODY))?
        .to_bytes();
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&bytes)
        .map_err(|_| ApiError::new(Code::InvalidRequest, "the body is not JSON"))
}

fn secure_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

fn asset(text: &'static str, kind: &'static str) -> Response<Body> {
    let mut r = Response::new(body::full(text));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    secure_headers(h);
    r
}

fn redirect(to: &'static str) -> Response<Body> {
    let mut r = Response::new(body::full(""));
    *r.status_mut() = StatusCode::FOUND;
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(to));
    r
}
