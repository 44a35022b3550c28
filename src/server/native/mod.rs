//! The ChatGPT backend's own surface, for the Codex CLI in its ChatGPT-login
//! mode (`openai_base_url` and `chatgpt_base_url` pointed at the gateway;
//! docs/codex-native.md). One file per concern:
//!
//! - `responses.rs`: `POST /backend-api/codex/responses` through the pool,
//!   exactly as `/v1/responses` (route label `codex`); its WebSocket upgrade
//!   (`server/ws/`, route label `codex_ws`).
//! - `forward.rs`: what of the caller's headers goes upstream (identity, never
//!   credentials) and how a caller presents its client key.
//! - `models.rs`: `GET /backend-api/codex/models`, upstream's catalog as is.
//! - `usage.rs`: `GET /backend-api/wham/usage`: the pool's windows.
//! - `local.rs`: routing discovery and the start-up calls, answered here;
//!   every other `/backend-api/*` path is a 404.
//!
//! Nothing here sends a pool account's token anywhere but `upstream::Client`
//! does (model traffic, and the usage probe of `usage.rs`).

mod alpha;
mod forward;
mod local;
mod models;
mod responses;
mod usage;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use http::{Method, Request, Response};
use hyper::body::Incoming;
use tokio::time::Instant;

use super::body::Body;
use super::error::ApiError;
use super::request::RequestId;
use super::Shared;

/// Paths under `/backend-api` (and the `/api/codex` path style) this module answers.
pub(super) fn owns(path: &str) -> bool {
    path.starts_with("/backend-api/") || path == "/backend-api" || path == "/api/codex/usage"
}

/// What the native surface remembers between requests (per listener).
#[derive(Default)]
pub(crate) struct State {
    /// Unknown paths already logged (bounded: `local::MAX_LOGGED_PATHS`).
    unknown_paths: Mutex<HashSet<String>>,
    /// When each account's `/wham/usage` was last asked for (`usage.rs`).
    probed: Mutex<HashMap<String, Instant>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The native route table.
pub(super) async fn route(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
    started: std::time::Instant,
    ids: &RequestId,
) -> Response<Body> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let not_allowed = || ApiError::method_not_allowed(&method, &path).into_response();
    let sub = path.strip_prefix("/backend-api").unwrap_or(&path);
    match sub {
        "/codex/responses" => match method {
            Method::POST => responses::handle(shared, req, started, ids).await,
            Method::GET => responses::upgrade(shared, req, ids),
            _ => not_allowed(),
        },
        "/codex/models" => match method {
            Method::GET => models::handle(shared, req.headers(), req.uri().query()),
            _ => not_allowed(),
        },
        "/wham/usage" | "/api/codex/usage" => match method {
            Method::GET => usage::handle(shared, req.headers()).await,
            _ => not_allowed(),
        },
        _ if alpha::owns(sub) => alpha::handle(shared, req, sub).await,
        _ => local::handle(shared, req, sub).await,
    }
}
