//! The HTTP server: accept loop, connection limits, graceful shutdown.
//!
//! `run` takes its listener and shutdown signal as arguments, so tests start the
//! real server on `127.0.0.1:0` and stop it when they like.

mod admin;
pub(crate) mod body;
mod chat;
mod console;
mod ctx;
mod dispatch;
pub(crate) mod error;
pub(crate) mod fdlimit;
mod guard;
mod images;
mod ledger;
mod messages;
mod models;
mod native;
mod readiness;
mod relay;
pub(crate) mod request;
mod responses;
mod router;
pub(crate) mod usage;
mod ws;

use std::future::Future;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::app::App;

/// Which routes a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Surface {
    /// The whole API (and `/metrics`, `/admin/*`).
    Api,
    /// Only `/metrics` (the optional `[metrics].listen`).
    MetricsOnly,
}

/// Shared by every connection of one listener.
pub(crate) struct Shared {
    pub app: Arc<App>,
    pub inflight: Arc<Semaphore>,
    /// Request-body bytes in flight (`server.max_inflight_body_bytes`).
    pub body_budget: Arc<Semaphore>,
    /// The budget's size, fixed at start: no body larger than it can be read.
    pub body_budget_bytes: usize,
    pub surface: Surface,
    /// Whether the listener is bound to a loopback address: browser checks
    /// apply there, and what it shows without a key is limited elsewhere.
    pub loopback: bool,
    /// What the Codex CLI's native surface remembers (`native::State`).
    pub native: native::State,
    /// The gateway's own request ids (`request::IdSource`).
    pub ids: request::IdSource,
    /// The Responses WebSockets of this listener (`ws::Sockets`).
    pub sockets: ws::Sockets,
}

const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 128\r\n\r\n";

/// Serves until `shutdown` resolves, then lets in-flight requests and streams
/// finish within `[server].shutdown_grace` and cancels what remains.
pub(crate) async fn run(
    listener: TcpListener,
    app: Arc<App>,
    surface: Surface,
    shutdown: impl Future<Output = ()>,
) {
    let cfg = app.snapshot().config.server.clone();
    let loopback = listener.local_addr().is_ok_and(|a| a.ip().is_loopback());
    let cap = fdlimit::connection_cap(cfg.max_connections, fdlimit::soft_limit());
    if cap < cfg.max_connections && surface == Surface::Api {
        tracing::warn!(
            max_connections = cfg.max_connections,
            effective = cap,
            open_file_limit = ?fdlimit::soft_limit(),
            "server.max_connections is above what the open-file limit allows; serving at most {cap} connections. Raise the limit (`ulimit -n`, systemd LimitNOFILE=, docker --ulimit nofile=) to use the configured cap"
        );
    }
    let connections = Arc::new(Semaphore::new(cap));
    let shared = Arc::new(Shared {
        inflight: Arc::new(Semaphore::new(cfg.max_inflight)),
        body_budget: Arc::new(Semaphore::new(
            cfg.max_inflight_body_bytes.min(Semaphore::MAX_PERMITS),
        )),
        body_budget_bytes: cfg.max_inflight_body_bytes.min(Semaphore::MAX_PERMITS),
        app,
        surface,
        loopback,
        native: native::State::default(),
        ids: request::IdSource::default(),
        sockets: ws::Sockets::new(Arc::clone(&connections)),
    });
    let (stopping, stop_rx) = tokio::sync::watch::channel(false);
    let mut accept_errors = AcceptErrors::default();
    let mut tasks = JoinSet::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(cfg.header_read_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        while tasks.try_join_next().is_some() {}
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    accept_errors.note(&e);
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
            tasks.spawn(refuse(stream));
            continue;
        };
        let shared = Arc::clone(&shared);
        let svc = service_fn(move |req| {
            let shared = Arc::clone(&shared);
            async move { Ok::<_, std::convert::Infallible>(answer(shared, req).await) }
        });
        let conn = builder
            .serve_connection(TokioIo::new(stream), svc)
            .with_upgrades();
        tasks.spawn(serve_connection(conn, stop_rx.clone(), peer, permit));
    }
    drop(listener);
    let grace = shared.app.snapshot().config.server.shutdown_grace;
    tracing::info!(grace = ?grace, "shutting down: draining in-flight requests");
    let _ = stopping.send(true);
    let drain = async { while tasks.join_next().await.is_some() {} };
    let started = tokio::time::Instant::now();
    let sockets = shared.sockets.shutdown(grace);
    let (drained, ()) = tokio::join!(tokio::time::timeout(grace, drain), sockets);
    if drained.is_err() {
        tracing::warn!(waited = ?started.elapsed(), "shutdown grace ran out; cancelling the requests that remain");
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
}

/// One connection until it ends; on shutdown it finishes the request in
/// flight and closes (hyper's graceful shutdown). A connection upgraded to a
/// WebSocket ends here; the socket lives on in `ws::Sockets`.
async fn serve_connection<C>(
    conn: C,
    mut stop: tokio::sync::watch::Receiver<bool>,
    peer: std::net::SocketAddr,
    permit: tokio::sync::OwnedSemaphorePermit,
) where
    C: GracefulConn,
{
    tokio::pin!(conn);
    let ended = tokio::select! {
        r = conn.as_mut() => r,
        _ = stopped(&mut stop) => {
            conn.as_mut().graceful();
            conn.as_mut().await
        }
    };
    if let Err(e) = ended {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
    drop(permit);
}

/// Resolves once `stop` says true (or its sender is gone).
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// A hyper connection that can be asked to finish and close.
trait GracefulConn: Future<Output = Result<(), hyper::Error>> {
    fn graceful(self: std::pin::Pin<&mut Self>);
}

impl<I, S, B> GracefulConn for http1::UpgradeableConnection<I, S>
where
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn graceful(self: std::pin::Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// Accept failures (EMFILE when out of descriptors), logged at most once
/// per `EVERY` with how many were not: under a flood of them the log would
/// otherwise grow by the line.
#[derive(Default)]
struct AcceptErrors {
    last: Option<tokio::time::Instant>,
    unlogged: u64,
}

impl AcceptErrors {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(10);

    fn note(&mut self, e: &std::io::Error) {
        let now = tokio::time::Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < Self::EVERY)
        {
            self.unlogged += 1;
            return;
        }
        tracing::warn!(error = %e, not_logged_since_last = self.unlogged, "accept failed; new clients wait until it succeeds (out of file descriptors? see server.max_connections)");
        self.last = Some(now);
        self.unlogged = 0;
    }
}

/// Routes one request; a panic anywhere in it is a bug, answered with 500
/// `internal_error` and logged, never a dropped connection.
async fn answer(
    shared: Arc<Shared>,
    req: http::Request<hyper::body::Incoming>,
) -> http::Response<body::Body> {
    guarded(router::route(shared, request::detached(req))).await
}

/// `routed`, with a panic turned into a 500 answer. Not an `async fn`: that
/// would hold `routed` twice in its state (the argument, and the copy moved
/// into `catch_unwind`).
fn guarded(
    routed: impl Future<Output = http::Response<body::Body>>,
) -> impl Future<Output = http::Response<body::Body>> {
    use futures_util::FutureExt;
    std::panic::AssertUnwindSafe(routed)
        .catch_unwind()
        .map(|answered| match answered {
            Ok(resp) => resp,
            Err(panic) => {
                tracing::error!(
                    panic = panic_text(&panic),
                    "bug: a request handler panicked"
                );
                error::ApiError::internal("the gateway hit an internal error; it was logged")
                    .into_response()
            }
        })
}

/// The message of a caught panic, for the log.
pub(crate) fn panic_text(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// Over the connection cap: a fast 503, then close.
async fn refuse(mut stream: tokio::net::TcpStream) {
    let body = br#"{"error":{"message":"the gateway is at its connection limit","type":"server_error","param":null,"code":"server_busy"}}"#;
    let mut msg = BUSY.to_vec();
    let mut padded = body.to_vec();
    padded.resize(128, b' ');
    msg.extend_from_slice(&padded);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), stream.write_all(&msg)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_is_answered_with_a_500_envelope() {
        let resp = guarded(async { panic!("a bug") }).await;
        assert_eq!(resp.status(), http::StatusCode::INTERNAL_SERVER_ERROR);
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "internal_error");
    }
}
