//! codex-pool: an OpenAI- and Anthropic-compatible gateway over ChatGPT
//! subscriptions, on the codex-responses transport, with an account pool.
//!
//! One request, phase by phase (`server/dispatch.rs` names each phase's
//! functions):
//!
//! ```text
//! server::run ─► server::router (one match on the path; browser guard on loopback)
//!   │
//!   ├─ admit ............ server::ctx::admit      in-flight cap, client key, rate/budget,
//!   │                                             bounded body (server::request)
//!   ├─ parse + limits ... server::{chat,responses,messages,native,images}::…
//!   │                     → Ctx::admit_model       model length, key's allow-list
//!   ├─ translate ........ translate::{chat,responses,anthropic} → translate::Upstream
//!   │                     (translate::limits bounds it, translate::alias resolves the model)
//!   ├─ serve ............ proxy::serve            the pool walk: pick (pool::Pool::plan_for,
//!   │                     │                        affinity::Affinity) → send (proxy/attempt.rs,
//!   │                     │                        upstream::Client) → on a retryable failure
//!   │                     └── pick again            before the first output, the next account
//!   ├─ relay ............ server::relay::Relay<C> held-back events, then the live stream
//!   │                     through the route's converter (translate::chat::ChatStream,
//!   │                     translate::anthropic::MessagesStream, passthrough) — or one
//!   │                     JSON answer from translate::Collector (each dialect's answer)
//!   └─ record ........... server::ledger::Ledger  metrics, tokens against budgets, a
//!                                                  mid-stream failure's effect on the account
//!                                                  (pool::Account::failed), what affinity
//!                                                  learns (affinity::Affinity::observe)
//! ```
//!
//! The layers, top first. A module imports only from layers below its own
//! (`layers_test.rs` reads this list and checks every `crate::` path):
//! 1. `cli`: the commands (`serve`, `check-config`, `login`, `import`,
//!    `accounts`, `keys`, `admin-token`, `codex-config`, `doctor`, `usage`);
//!    `main.rs` only parses and calls it.
//! 2. `server`: accept loop, router, admission, the routes (`native`: the
//!    Codex CLI's own backend surface, docs/codex-native.md; `ws`: the
//!    Responses API over WebSocket, docs/websocket.md; images; the console),
//!    relay, ledger, the admin API, readiness (`/healthz`, `/readyz`), and the
//!    HTTP edge's errors
//!    (`server::error`: `Code`, `ApiError`).
//! 3. `proxy`, `reload`, `background`: the pool walk, built from the route's
//!    request (`proxy::Call::new`), and one account's attempt
//!    (`proxy::socket`: a turn on an upstream WebSocket; `proxy::bridge`: an
//!    HTTP conversation's turn on its kept upstream socket, kept in
//!    `upstream::ws::kept`); live reload; proactive refresh, the usage probe,
//!    the models refresh and (with `[store]`) the replica sync.
//! 4. `app`: the `ArcSwap` snapshot and what outlives it (accounts, metrics,
//!    activity, affinity, the models catalog, the store, the usage queue), and
//!    the usage probe (`App::probe_usage`).
//! 5. `usage`: hourly usage rollups (SQLite, and Redis with `[store]`), the
//!    access log, and reading them back; fed by the ledger through a queue.
//! 6. `metrics`, `keys`, `affinity`: Prometheus, every update a method;
//!    client keys and their limits (`keys::Refusal`, mapped at the edge);
//!    conversation affinity, the one API the request path places and records
//!    through (over `pool::pins`' tables and the store).
//! 7. `translate`: pure Chat / Responses / Messages / Images ⇄ codex-responses
//!    translation, a folder per client dialect; the collector, model aliases,
//!    request limits.
//! 8. `upstream`: the codex-responses client (HTTP and `upstream::ws`), SSE
//!    decoding, typed events, failures classified into what they do to an
//!    account (`pool::Setback`).
//! 9. `pool`: accounts, the breaker (`breaker`) and what a failure does to
//!    an account (`outcome`), quota, model eligibility, strategies, activity
//!    log, affinity's tables (`pins`), and their health shared across
//!    replicas (`replicas`).
//! 10. `auth`: JWT claims, the `auth.json` file, the login lock, a login's
//!     token state (`slot`) and its single-flight refresh, the login kept in
//!     the shared store (`stored`), the login flows.
//! 11. `store`: the optional Redis shared by replicas (`[store]`): I/O and
//!     scripts only, nothing of the domain.
//! 12. `config`, `catalog`: the TOML file → validated `Config`; the models
//!     catalog (pure data).
//! 13. `seal`, `version`, `buffers`: the store's encryption key and sealed
//!     values; Codex release numbers; large byte buffers kept for reuse.
//! 14. `clock`, `route`, `secret`, `sync`: leaves (wall clock, the route
//!     families, `Secret<T>`, the poison-tolerant lock).

#![cfg_attr(test, allow(clippy::panic, clippy::unwrap_used, clippy::expect_used))]
#![warn(unreachable_pub)]

pub mod affinity;
pub mod app;
pub mod auth;
mod background;
mod buffers;
pub mod catalog;
pub mod cli;
mod clock;
pub mod config;
pub mod keys;
pub mod metrics;
pub mod pool;
pub(crate) mod proxy;
pub(crate) mod reload;
pub(crate) mod route;
pub mod seal;
pub mod secret;
pub(crate) mod server;
pub mod store;
mod sync;
pub mod translate;
pub mod upstream;
pub mod usage;
pub mod version;

#[cfg(test)]
mod layers_test;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinSet;

use app::App;
use config::Config;

/// Runs the gateway on `listener` until `shutdown` resolves; background tasks
/// are started here and joined before returning, and token refreshes still
/// in flight are waited for (up to `FLIGHTS_WAIT`).
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), app::StartError> {
    let metrics_listener = match config.metrics_listen {
        Some(addr) => match TcpListener::bind(addr).await {
            Ok(l) => {
                // Read back by whoever asked for port 0 (the tests do).
                let bound = l.local_addr().map(|a| a.to_string()).unwrap_or_default();
                tracing::info!("metrics listening on http://{bound}");
                Some(l)
            }
            Err(e) => {
                tracing::error!(%addr, error = %e, "cannot bind metrics.listen; serving /metrics on the main listener only");
                None
            }
        },
        None => None,
    };
    let config_path = config.path.clone();
    let app = App::new(config)?;
    run_app(app, listener, metrics_listener, config_path, shutdown).await;
    Ok(())
}

/// `run` with an `App` the caller built (the integration tests start the
/// server in process this way, on a listener of their own).
pub async fn run_app(
    app: Arc<App>,
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    config_path: Option<std::path::PathBuf>,
    shutdown: impl Future<Output = ()>,
) {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = JoinSet::new();
    tasks.spawn(background::models_loop(Arc::clone(&app), stop_rx.clone()));
    tasks.spawn(background::refresh_loop(Arc::clone(&app), stop_rx.clone()));
    tasks.spawn(background::usage_probe_loop(
        Arc::clone(&app),
        stop_rx.clone(),
    ));
    tasks.spawn(background::store_loop(Arc::clone(&app), stop_rx.clone()));
    let usage_db = background::open_usage(&app).await;
    tasks.spawn(background::usage_loop(
        Arc::clone(&app),
        usage_db,
        stop_rx.clone(),
    ));
    if let Some(path) = config_path {
        tasks.spawn(reload::watch(Arc::clone(&app), path, stop_rx.clone()));
    }
    // Always: without a handler, SIGHUP would end the process.
    tasks.spawn(sighup(Arc::clone(&app), stop_rx.clone()));
    if let Some(l) = metrics_listener {
        let mut rx = stop_rx.clone();
        tasks.spawn(server::run(
            l,
            Arc::clone(&app),
            server::Surface::MetricsOnly,
            async move {
                let _ = rx.changed().await;
            },
        ));
    }
    server::run(listener, Arc::clone(&app), server::Surface::Api, shutdown).await;
    let _ = stop_tx.send(true);
    app.logins.abort_all();
    while tasks.join_next().await.is_some() {}
    // A refresh whose request is gone may have spent the old refresh token
    // already: let it write the new one before the runtime is dropped.
    let wait = if app.store.is_some() {
        auth::refresh::SHARED_FLIGHT_MAX
    } else {
        FLIGHTS_WAIT
    };
    if !app.flights.wait_idle(wait).await {
        tracing::warn!(
            running = app.flights.running(),
            "token refreshes still running at shutdown; the tokens they rotate may not reach their files"
        );
    }
}

/// How long shutdown waits for token refreshes in flight: longer than one
/// issuer call may take (30 s, `src/auth/refresh.rs`). With `[store]` a
/// flight may take up to its lock's expiry (`SHARED_FLIGHT_MAX`): it is
/// waited for that long, so the rotated login reaches the store.
const FLIGHTS_WAIT: std::time::Duration = std::time::Duration::from_secs(35);

#[cfg(unix)]
async fn sighup(app: Arc<App>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP");
        return;
    };
    loop {
        tokio::select! {
            got = hup.recv() => {
                if got.is_none() { return; }
                let _ = reload::reload(&app, "SIGHUP").await;
            }
            _ = shutdown.changed() => return,
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        match (term, int) {
            (Ok(mut t), Ok(mut i)) => {
                tokio::select! {
                    _ = t.recv() => {}
                    _ = i.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
