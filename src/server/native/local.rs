//! What the Codex CLI's backend client asks with nothing but its own ChatGPT
//! login, answered here: nothing is forwarded upstream, no client key is
//! needed (none of it tells anything about the pool), analytics are dropped.
//! docs/codex-native.md §2 lists each call and why this answer.
//!
//! - `GET /wham/accounts/check`: routing discovery. One entry, the caller's
//!   own `ChatGPT-Account-ID`, whose backend origin keeps the CLI's model
//!   traffic on the gateway (docs/codex-native.md §1).
//! - The start-up calls (settings, reset credits, security notice, plugins
//!   and their tooling state, the apps MCP server, analytics): the empty
//!   answers the CLI accepts.
//! - Any other path: 404, logged once per path.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::{json, Value};

use super::super::body::{self, Body};
use super::super::error::ApiError;
use super::super::request::bounded;
use super::super::Shared;
use super::lock;

/// At most this many distinct unknown paths are logged.
pub(super) const MAX_LOGGED_PATHS: usize = 64;
/// The largest MCP message read (the CLI's `initialize` and `tools/list` are
/// a few hundred bytes). These routes need no client key and read outside
/// the body budget, so this stays small: 4,096 connections hold 16 MiB.
const MAX_BODY: usize = 4 << 10;
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) async fn handle(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
    sub: &str,
) -> Response<Body> {
    let method = req.method().clone();
    let get = |v: Value| match method {
        Method::GET => body::json(StatusCode::OK, &v),
        _ => ApiError::method_not_allowed(&method, req.uri().path()).into_response(),
    };
    match sub {
        "/wham/accounts/check" => match method {
            Method::GET => body::json(StatusCode::OK, &discovery(req.headers())),
            _ => get(Value::Null),
        },
        "/wham/settings/user" | "/wham/security-setup" => get(json!({})),
        "/wham/rate-limit-reset-credits" => get(json!({"credits": [], "available_count": 0})),
        "/ps/plugins/installed" => {
            get(json!({"plugins": [], "pagination": {"next_page_token": null}}))
        }
        "/ps/plugins/suggested/codex" => get(json!({"enabled": false, "plugins": []})),
        // Codex CLI 0.171: the plugin tooling state at start-up; nothing is
        // installed through the gateway, so there is no state to report.
        "/ps/plugins/tooling-state/turtle" => get(json!({})),
        "/ps/mcp" => match method {
            Method::POST => mcp(req).await,
            _ => ApiError::method_not_allowed(&method, "/backend-api/ps/mcp").into_response(),
        },
        "/codex/analytics-events/events" => match method {
            // Dropped unread: these routes need no client key, so nothing
            // a caller sends here may cost the gateway memory.
            Method::POST => body::json(StatusCode::OK, &json!({})),
            _ => ApiError::method_not_allowed(&method, req.uri().path()).into_response(),
        },
        _ => unknown(shared, req.uri().path()),
    }
}

/// The routing discovery answer: the caller's account, with a backend origin
/// the CLI accepts (`https`) that is not the origin of its model traffic on
/// a plain listener (`https://` + the `Host` it asked), or `NO_CONSTRAINT`
/// behind TLS (the origin of its `chatgpt_base_url`, which is then https).
fn discovery(headers: &HeaderMap) -> Value {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let Some(id) = header("chatgpt-account-id")
        .filter(|id| id.len() <= 256 && id.bytes().all(|b| b.is_ascii_graphic()))
    else {
        return json!({"accounts": []});
    };
    let tls = header("x-forwarded-proto").is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let host = header("x-forwarded-host")
        .or_else(|| header("host"))
        .filter(|h| h.len() <= 255 && h.bytes().all(host_byte));
    let origin = match (tls, host) {
        (false, Some(host)) => format!("https://{host}"),
        _ => "NO_CONSTRAINT".to_string(),
    };
    json!({"accounts": [{
        "id": id,
        "workspace_backend_origin": origin,
        "account_routing_override": "NO_CONSTRAINT",
    }]})
}

fn host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
}

/// The hosted apps MCP server (streamable HTTP, JSON answers): no tools.
async fn mcp(req: Request<Incoming>) -> Response<Body> {
    let Some(bytes) = read(req).await else {
        return rpc_error(Value::Null, -32700, "the message could not be read");
    };
    let Ok(msg) = serde_json::from_slice::<Value>(&bytes) else {
        return rpc_error(Value::Null, -32700, "the message is not JSON");
    };
    let Some(id) = msg.get("id").cloned() else {
        // A notification (or a response): nothing to answer.
        let mut r = Response::new(body::full(Bytes::new()));
        *r.status_mut() = StatusCode::ACCEPTED;
        return r;
    };
    let result = match msg.get("method").and_then(Value::as_str) {
        Some("initialize") => {
            let version = msg
                .pointer("/params/protocolVersion")
                .and_then(Value::as_str)
                .unwrap_or("2025-06-18");
            json!({"protocolVersion": version, "capabilities": {"tools": {}},
                "serverInfo": {"name": "codex-pool", "version": env!("CARGO_PKG_VERSION")}})
        }
        Some("tools/list") => json!({"tools": []}),
        Some("ping") => json!({}),
        _ => return rpc_error(id, -32601, "method not found"),
    };
    body::json(
        StatusCode::OK,
        &json!({"jsonrpc": "2.0", "id": id, "result": result}),
    )
}

fn rpc_error(id: Value, code: i64, message: &str) -> Response<Body> {
    body::json(
        StatusCode::OK,
        &json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}),
    )
}

/// A small request body, or `None` when it is too large, slow or broken.
async fn read(req: Request<Incoming>) -> Option<Bytes> {
    // A larger declared length is refused before a byte is read.
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return None;
    }
    let collect = Limited::new(req.into_body(), MAX_BODY).collect();
    match tokio::time::timeout(BODY_TIMEOUT, collect).await {
        Ok(Ok(c)) => Some(c.to_bytes()),
        _ => None,
    }
}

/// A 404 in the OpenAI envelope; the first time a path is asked, a log line.
fn unknown(shared: &Shared, path: &str) -> Response<Body> {
    let path = bounded(path);
    let first = {
        let mut seen = lock(&shared.native.unknown_paths);
        seen.len() < MAX_LOGGED_PATHS && seen.insert(path.to_string())
    };
    if first {
        tracing::info!(
            path,
            "the Codex CLI asked for a backend path this gateway does not serve (404; logged once per path)"
        );
    }
    ApiError::not_found(path).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, http::HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn discovery_echoes_the_caller_with_an_https_origin_of_the_host_it_asked() {
        let v = discovery(&headers(&[
            ("chatgpt-account-id", "acct-me"),
            ("host", "localhost:8787"),
        ]));
        assert_eq!(
            v,
            json!({"accounts": [{"id": "acct-me", "workspace_backend_origin": "https://localhost:8787",
                "account_routing_override": "NO_CONSTRAINT"}]})
        );
        let v = discovery(&headers(&[
            ("chatgpt-account-id", "acct-me"),
            ("host", "pool.example.com"),
            ("x-forwarded-proto", "https"),
        ]));
        assert_eq!(
            v["accounts"][0]["workspace_backend_origin"],
            "NO_CONSTRAINT"
        );
        let v = discovery(&headers(&[
            ("chatgpt-account-id", "acct-me"),
            ("host", "evil/path@x"),
        ]));
        assert_eq!(
            v["accounts"][0]["workspace_backend_origin"],
            "NO_CONSTRAINT"
        );
        assert_eq!(
            discovery(&headers(&[("host", "localhost")])),
            json!({"accounts": []})
        );
    }
}
