//! codex-pool: an OpenAI-compatible gateway over ChatGPT subscriptions.
//!
//! ```text
//! client ──► server::router ──► keys (authenticate, rate-limit)
//!                 │
//!                 ├─ translate::{chat, responses,   request → codex-responses body
//!                 │    messages} (alias: model)
//!                 ├─ proxy::serve                    pick account (pool) → send (upstream)
//!                 │      ▲          │                → on retryable failure before the
//!                 │      └──────────┘                  first byte, pick again
//!                 └─ relay / aggregate               translate::{chat_stream, messages_stream,
//!                                                    aggregate}
//!                        └─► proxy::Finish           metrics, tokens, budgets, cooldowns
//! ```
//!
//! Modules:
//! - `config`: the TOML file → validated `Config`; `reload`: live reload into `app`.
//! - `app`: the `ArcSwap` snapshot and what outlives it (accounts, metrics, catalog).
//! - `pool`: accounts, health (cooldowns), quota, strategies, activity log.
//! - `auth`: JWT claims, the `auth.json` token store, single-flight refresh.
//! - `upstream`: the codex-responses client, SSE decoding, events, failures.
//! - `translate`: pure Chat / Messages ⇄ Responses translation, model aliases.
//! - `server`: accept loop and routes (`server::native`: the Codex CLI's own
//!   backend surface, docs/codex-native.md); `admin`: the admin API; `metrics`: Prometheus.
//! - `store`: the optional Redis store shared by replicas (`[store]`).
//! - `cli`: commands other than `serve` (check-config, login, import, accounts, keys).

#![cfg_attr(test, allow(clippy::panic, clippy::unwrap_used, clippy::expect_used))]

pub mod app;
pub mod auth;
mod background;
pub mod cli;
mod clock;
pub mod config;
pub mod keys;
pub mod metrics;
pub mod models;
pub mod pool;
pub mod proxy;
pub mod reload;
pub mod route;
pub mod secret;
pub mod server;
pub mod store;
mod sync;
pub mod translate;
pub mod upstream;

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
            Ok(l) => Some(l),
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

/// `run` with an `App` the caller built (tests keep a handle to it).
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
    while tasks.join_next().await.is_some() {}
    // A refresh whose request is gone may have spent the old refresh token
    // already: let it write the new one before the runtime is dropped.
    if !app.flights.wait_idle(FLIGHTS_WAIT).await {
        tracing::warn!(
            running = app.flights.running(),
            "token refreshes still running at shutdown; the tokens they rotate may not reach their files"
        );
    }
}

/// How long shutdown waits for token refreshes in flight: longer than one
/// issuer call may take (30 s, `src/auth/refresh.rs`).
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
