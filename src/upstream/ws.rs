//! The Responses WebSocket to upstream: one socket, one account's token
//! (docs/upstream.md §9). `GET {base_url}/responses` upgraded, with the same
//! headers `Client::responses` sends plus the WebSocket beta header; then
//! `response.create` text frames out and event text frames in.
//!
//! A `Socket` knows nothing of client sockets: the server's WebSocket session
//! (`server/ws/`) holds one per client socket, and `kept` holds them between
//! the turns of HTTP conversations (`proxy::bridge`).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

use super::{is_credential, Client, Failure};
use crate::auth::file::Credentials;

pub mod kept;

/// The per-turn routing token (docs/upstream.md §8).
const TURN_STATE: &str = "x-codex-turn-state";

/// The beta header that selects the Responses WebSocket protocol.
pub const BETA: (&str, &str) = ("openai-beta", "responses_websockets=2026-02-06");

/// The largest frame upstream may send: a `response.completed` carries the
/// whole output again, which can be megabytes.
const MAX_MESSAGE: usize = 64 << 20;

/// A byte stream the socket runs on: TCP, or TLS over TCP.
trait Io: AsyncRead + AsyncWrite + Send + Sync + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Sync + Unpin> Io for T {}

/// One open upstream WebSocket.
pub struct Socket {
    stream: WebSocketStream<Box<dyn Io>>,
    /// The handshake answer's headers (`x-codex-turn-state`, `openai-model`).
    pub headers: HeaderMap,
    pub opened: Instant,
}

/// Why no socket was opened.
#[derive(Debug)]
pub enum ConnectError {
    /// Upstream does not speak WebSocket here (426, 404, 405): HTTP instead.
    Refused(StatusCode),
    /// A failure like any HTTP attempt's (login, limits, network).
    Failed(Failure),
}

impl From<Failure> for ConnectError {
    fn from(f: Failure) -> ConnectError {
        ConnectError::Failed(f)
    }
}

impl Client {
    /// Opens `{base_url}/responses` as a WebSocket with `creds`, the gateway's
    /// identity headers, and `forward` (never credentials), within `timeout`.
    pub async fn websocket(
        &self,
        creds: &Credentials,
        session_id: &str,
        forward: &[(HeaderName, HeaderValue)],
        timeout: Duration,
    ) -> Result<Socket, ConnectError> {
        // Through a proxy, or no WebSocket form: as if upstream refused.
        let url = self
            .websocket_url()
            .ok_or(ConnectError::Refused(StatusCode::UPGRADE_REQUIRED))?;
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| connect_failure(&e))?;
        let headers = request.headers_mut();
        for (name, value) in self.auth_headers(creds)? {
            if let Some(name) = name {
                headers.insert(name, value);
            }
        }
        let sid = HeaderValue::from_str(session_id)
            .unwrap_or_else(|_| HeaderValue::from_static("codex-pool"));
        for name in ["session-id", "thread-id", "x-client-request-id"] {
            headers.insert(HeaderName::from_static(name), sid.clone());
        }
        for (name, value) in forward.iter().filter(|(n, _)| !is_credential(n)) {
            headers.insert(name.clone(), value.clone());
        }
        headers.insert(BETA.0, HeaderValue::from_static(BETA.1));
        let open = async {
            let io = connect_io(&url, self.connect_timeout).await?;
            tokio_tungstenite::client_async_with_config(request, io, Some(config()))
                .await
                .map_err(handshake_failure)
        };
        let (stream, answer) =
            tokio::time::timeout(timeout, open)
                .await
                .map_err(|_| Failure::Timeout {
                    phase: "opening the WebSocket",
                    after: timeout,
                })??;
        Ok(Socket {
            stream,
            headers: answer.headers().clone(),
            opened: Instant::now(),
        })
    }

    /// `ws(s)://…/responses`, or `None` when a proxy from the environment
    /// applies (the socket does not go through proxies: HTTP does).
    fn websocket_url(&self) -> Option<url::Url> {
        self.fast.as_ref()?;
        let mut url = self.responses_url.clone();
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        url.set_scheme(scheme).ok()?;
        Some(url)
    }
}

/// Small buffers: an idle socket should cost little (BENCHMARKS.md).
pub fn config() -> WebSocketConfig {
    let mut c = WebSocketConfig::default();
    c.read_buffer_size = 4096;
    c.write_buffer_size = 0;
    c.max_write_buffer_size = 4 << 20;
    c.max_message_size = Some(MAX_MESSAGE);
    c.max_frame_size = Some(MAX_MESSAGE);
    c
}

impl Socket {
    /// Sends one text frame.
    pub async fn send(&mut self, text: String) -> Result<(), Failure> {
        self.stream
            .send(Message::text(text))
            .await
            .map_err(|e| connect_failure(&e))
    }

    /// The next text frame; `Ok(None)` when upstream closed the socket.
    /// Pings are answered by the library; binary frames are a protocol error.
    pub async fn next(&mut self) -> Result<Option<String>, Failure> {
        loop {
            let Some(msg) = self.stream.next().await else {
                return Ok(None);
            };
            match msg.map_err(|e| connect_failure(&e))? {
                Message::Text(t) => return Ok(Some(t.as_str().to_owned())),
                Message::Close(_) => return Ok(None),
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
                Message::Binary(_) => {
                    return Err(Failure::StreamFailed {
                        code: Some("websocket_protocol_error".into()),
                        message: "upstream sent a binary frame".into(),
                    })
                }
            }
        }
    }

    /// Whether upstream has not closed the socket: reads what is already
    /// there (a pong, a close) without waiting for more.
    pub async fn still_open(&mut self) -> bool {
        loop {
            match tokio::time::timeout(Duration::from_millis(1), self.stream.next()).await {
                Err(_) => return true,
                Ok(None | Some(Err(_) | Ok(Message::Close(_)))) => return false,
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    /// A keepalive ping.
    pub async fn ping(&mut self) -> Result<(), Failure> {
        self.stream
            .send(Message::Ping(Vec::new().into()))
            .await
            .map_err(|e| connect_failure(&e))
    }

    /// Closes the socket politely (best effort, bounded).
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.stream.close(None)).await;
    }

    /// The turn-state token the handshake's `101` carried, as the
    /// `response.metadata` frame a socket carries it in otherwise.
    pub fn handshake_metadata(&self) -> Option<String> {
        let token = self.headers.get(TURN_STATE)?.to_str().ok()?;
        let frame =
            serde_json::json!({"type": "response.metadata", "headers": {TURN_STATE: token}});
        Some(frame.to_string())
    }

    /// How long the socket has been open.
    pub fn age(&self) -> Duration {
        self.opened.elapsed()
    }
}

/// TCP (and TLS for `wss`) to the URL's host.
async fn connect_io(url: &url::Url, timeout: Duration) -> Result<Box<dyn Io>, Failure> {
    let host = url.host_str().ok_or_else(|| Failure::Connect {
        message: "upstream.base_url has no host".into(),
    })?;
    let port = url.port_or_known_default().unwrap_or(443);
    let tcp = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
        .await
        .map_err(|_| Failure::Timeout {
            phase: "connecting",
            after: timeout,
        })?
        .map_err(|e| Failure::Connect {
            message: format!("cannot connect to {host}:{port}: {e}"),
        })?;
    let _ = tcp.set_nodelay(true);
    if url.scheme() != "wss" {
        return Ok(Box::new(tcp));
    }
    let tls = super::transport::tls_config().ok_or_else(|| Failure::Connect {
        message: "cannot set up TLS".into(),
    })?;
    let name =
        rustls::pki_types::ServerName::try_from(host.to_owned()).map_err(|e| Failure::Connect {
            message: format!("{host} is not a TLS server name: {e}"),
        })?;
    let stream = tokio_rustls::TlsConnector::from(std::sync::Arc::new(tls))
        .connect(name, tcp)
        .await
        .map_err(|e| Failure::Connect {
            message: format!("TLS to {host}: {e}"),
        })?;
    Ok(Box::new(stream))
}

/// A refused handshake: 426/404/405 say "no WebSocket here"; any other
/// status is classified as an HTTP answer would be.
fn handshake_failure(e: tungstenite::Error) -> ConnectError {
    match e {
        tungstenite::Error::Http(resp) => {
            let status = resp.status();
            if matches!(status.as_u16(), 404 | 405 | 426) {
                return ConnectError::Refused(status);
            }
            let body = resp.body().as_deref().unwrap_or(&[]);
            ConnectError::Failed(Failure::from_response(status, resp.headers(), body))
        }
        other => ConnectError::Failed(connect_failure(&other)),
    }
}

/// tungstenite's errors never carry headers, so no token can leak here.
fn connect_failure(e: &tungstenite::Error) -> Failure {
    Failure::Connect {
        message: format!("upstream WebSocket: {e}"),
    }
}
