//! The codex-responses client: the only code that talks to the upstream.
//!
//! It sends an account's token to `{upstream.base_url}` and nowhere else, with
//! the headers the Codex CLI sends (docs/upstream.md §2), and turns answers into
//! either a 200 event stream or a classified `Failure`.

pub mod events;
mod failure;
pub mod identity;
mod passthrough;
pub mod sse;
mod transport;
pub mod ws;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::auth::file::Credentials;
use crate::auth::ORIGINATOR;
use crate::config::UpstreamConfig;
pub use failure::Failure;
pub use identity::Identity;
pub use passthrough::Passed;
pub use transport::BodyStream;
use transport::{Fast, Received};

// Header names built at compile time: a string name is parsed on every insert.
const CHATGPT_ACCOUNT_ID: HeaderName = HeaderName::from_static("chatgpt-account-id");
const ORIGINATOR_HEADER: HeaderName = HeaderName::from_static("originator");
const VERSION: HeaderName = HeaderName::from_static("version");
const SESSION_ID: HeaderName = HeaderName::from_static("session-id");
const THREAD_ID: HeaderName = HeaderName::from_static("thread-id");
const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("x-client-request-id");

/// At most this much of an error body is read for classification.
const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// The largest successful JSON answer `get_json` accepts. Upstream's `/models`
/// list carries every model's prompts (about 300 KB in 2026), so success
/// bodies cannot share the error-body cap; a cap remains so a broken upstream
/// cannot fill memory.
pub const JSON_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// One HTTP client for every account (connection reuse across accounts is fine:
/// the token is per request).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// The version learned so far (`auto`), shared with the `App`.
    identity: Arc<Identity>,
    /// An explicit `client_version`'s headers, sent instead.
    fixed: Option<Arc<identity::Sent>>,
    /// `{base_url}/responses`, parsed once.
    responses_url: reqwest::Url,
    /// The hot path's own transport, unless a proxy applies (`transport.rs`).
    fast: Option<Fast>,
    /// For the WebSocket's own connect (`ws.rs`).
    connect_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("upstream.base_url is not a URL: {0}")]
    Url(#[from] url::ParseError),
}

/// The parts of a 200 answer the gateway keeps.
pub struct Answer {
    pub headers: HeaderMap,
    pub body: BodyStream,
}

impl Client {
    pub fn new(cfg: &UpstreamConfig, identity: Arc<Identity>) -> Result<Client, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let responses_url = format!("{}/responses", cfg.base_url);
        let fixed = identity.fixed(&cfg.client_version).map(Arc::new);
        Ok(Client {
            http,
            identity,
            fixed,
            responses_url: reqwest::Url::parse(&responses_url)?,
            fast: Fast::for_url(&responses_url, cfg.connect_timeout),
            connect_timeout: cfg.connect_timeout,
        })
    }

    /// The identity headers requests carry now.
    pub fn sent(&self) -> Arc<identity::Sent> {
        match &self.fixed {
            Some(f) => Arc::clone(f),
            None => self.identity.current(),
        }
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The login's headers and the gateway's identity. The login's values
    /// are built once per login (`Credentials::headers`): here they are
    /// reference counts, not a copy of the token.
    fn auth_headers(&self, creds: &Credentials) -> Result<HeaderMap, Failure> {
        let mut h = HeaderMap::with_capacity(16);
        let login = creds.headers();
        let bearer = login
            .authorization
            .clone()
            .ok_or_else(|| Failure::Unauthorized {
                status: 0,
                message: "the stored access token is not a valid header value".into(),
            })?;
        h.insert(http::header::AUTHORIZATION, bearer);
        if let Some(id) = &login.account_id {
            h.insert(CHATGPT_ACCOUNT_ID, id.clone());
        }
        h.insert(ORIGINATOR_HEADER, HeaderValue::from_static(ORIGINATOR));
        let sent = self.sent();
        h.insert(http::header::USER_AGENT, sent.user_agent.clone());
        h.insert(VERSION, sent.version_header.clone());
        Ok(h)
    }

    /// `POST {base_url}/responses`; returns the 200 stream or a classified failure.
    /// `forward` are client headers sent as they are (they replace the
    /// gateway's own identity headers), except the ones that carry or choose
    /// credentials (`is_credential`), which are always the account's.
    pub async fn responses(
        &self,
        creds: &Credentials,
        session_id: &str,
        forward: &[(HeaderName, HeaderValue)],
        body: Bytes,
        first_byte_timeout: Duration,
    ) -> Result<Answer, Failure> {
        let mut headers = self.auth_headers(creds)?;
        headers.insert(
            http::header::ACCEPT,
            HeaderValue::from_static("text/event-stream"),
        );
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        // `translate::session_id` only makes header-safe ids; the fallback
        // keeps a caller that did not use it from losing the request.
        let sid = HeaderValue::from_str(session_id)
            .unwrap_or_else(|_| HeaderValue::from_static("codex-pool"));
        headers.insert(SESSION_ID, sid.clone());
        headers.insert(THREAD_ID, sid.clone());
        headers.insert(CLIENT_REQUEST_ID, sid);
        for (name, value) in forward.iter().filter(|(n, _)| !is_credential(n)) {
            headers.insert(name.clone(), value.clone());
        }
        let received = match &self.fast {
            Some(fast) => fast.post(headers, body, first_byte_timeout).await?,
            None => self.post_reqwest(headers, body, first_byte_timeout).await?,
        };
        if received.status.is_success() {
            return Ok(Answer {
                headers: received.headers,
                body: received.body,
            });
        }
        let error = read_limited(received.body, first_byte_timeout).await;
        Err(Failure::from_response(
            received.status,
            &received.headers,
            &error,
        ))
    }

    /// The same `POST` through reqwest: when a proxy from the environment applies.
    async fn post_reqwest(
        &self,
        headers: HeaderMap,
        body: Bytes,
        first_byte_timeout: Duration,
    ) -> Result<Received, Failure> {
        let request = self
            .http
            .post(self.responses_url.clone())
            .headers(headers)
            .body(body);
        let response = match tokio::time::timeout(first_byte_timeout, request.send()).await {
            Err(_) => {
                return Err(Failure::Timeout {
                    phase: "waiting for response headers",
                    after: first_byte_timeout,
                })
            }
            Ok(Err(e)) => return Err(transport_failure(&e, first_byte_timeout)),
            Ok(Ok(r)) => r,
        };
        Ok(Received {
            status: response.status(),
            headers: response.headers().clone(),
            body: reqwest_body(response),
        })
    }

    /// `GET` a JSON document with an account's credentials (models, usage probe).
    pub async fn get_json(
        &self,
        url: &str,
        creds: &Credentials,
        timeout: Duration,
    ) -> Result<(HeaderMap, serde_json::Value), Failure> {
        let headers = self.auth_headers(creds)?;
        let send = self.http.get(url).headers(headers).send();
        let response = match tokio::time::timeout(timeout, send).await {
            Err(_) => {
                return Err(Failure::Timeout {
                    phase: "GET",
                    after: timeout,
                })
            }
            Ok(Err(e)) => return Err(transport_failure(&e, timeout)),
            Ok(Ok(r)) => r,
        };
        let status = response.status();
        let headers = response.headers().clone();
        if !status.is_success() {
            let body = read_limited(reqwest_body(response), timeout).await;
            return Err(Failure::from_response(status, &headers, &body));
        }
        let body = read_whole(response, JSON_BODY_LIMIT, timeout).await?;
        let json = serde_json::from_slice(&body).map_err(|e| Failure::ServerError {
            status: status.as_u16(),
            message: format!("not JSON: {e}"),
        })?;
        Ok((headers, json))
    }
}

/// Headers that carry or select an account's credentials: only ever the
/// account's own, never a client's.
pub fn is_credential(name: &HeaderName) -> bool {
    const CREDENTIALS: [&str; 5] = [
        "authorization",
        "chatgpt-account-id",
        "cookie",
        "proxy-authorization",
        "x-api-key",
    ];
    CREDENTIALS.contains(&name.as_str())
}

fn transport_failure(e: &reqwest::Error, after: Duration) -> Failure {
    if e.is_timeout() {
        Failure::Timeout {
            phase: "connecting",
            after,
        }
    } else {
        // reqwest's Display never includes headers, so no token can leak here.
        Failure::Connect {
            message: error_chain(e),
        }
    }
}

fn reqwest_body(response: reqwest::Response) -> BodyStream {
    Box::pin(response.bytes_stream().map_err(|e| error_chain(&e)))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}

/// At most `ERROR_BODY_LIMIT` of an error answer, best effort: whatever
/// arrived within `timeout` is enough to classify it.
async fn read_limited(mut body: BodyStream, timeout: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    let read = async {
        while let Some(Ok(chunk)) = body.next().await {
            let room = ERROR_BODY_LIMIT.saturating_sub(out.len());
            out.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if out.len() >= ERROR_BODY_LIMIT {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(timeout, read).await;
    out
}

/// The whole body of a successful answer, or a failure when it is larger than
/// `limit`, breaks off, or takes longer than `timeout`: a cut body must not
/// pass for the answer.
async fn read_whole(
    mut response: reqwest::Response,
    limit: usize,
    timeout: Duration,
) -> Result<Vec<u8>, Failure> {
    let status = response.status().as_u16();
    let too_large = || Failure::ServerError {
        status,
        message: format!("the answer is larger than {limit} bytes"),
    };
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut out = Vec::new();
    let read = async {
        while let Some(chunk) = response.chunk().await.map_err(|e| Failure::Connect {
            message: format!("the answer broke off: {}", error_chain(&e)),
        })? {
            if out.len() + chunk.len() > limit {
                return Err(too_large());
            }
            out.extend_from_slice(&chunk);
        }
        Ok(())
    };
    match tokio::time::timeout(timeout, read).await {
        Err(_) => Err(Failure::Timeout {
            phase: "reading the answer",
            after: timeout,
        }),
        Ok(Err(f)) => Err(f),
        Ok(Ok(())) => Ok(out),
    }
}

/// `codex_cli_rs/<version> (<os> <os version>; <arch>) codex-pool/<version>`.
pub fn user_agent(client_version: &str) -> String {
    let os = match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Mac OS",
        "windows" => "Windows",
        other => other,
    };
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|s| s.trim().split(['-', '+']).next().unwrap_or("").to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into());
    format!(
        "{ORIGINATOR}/{client_version} ({os} {release}; {}) codex-pool/{}",
        std::env::consts::ARCH,
        env!("CARGO_PKG_VERSION")
    )
}

/// `{base}/..`'s `wham/usage`: the usage probe lives beside `/codex`.
pub fn usage_url(base_url: &str) -> String {
    let root = base_url.strip_suffix("/codex").unwrap_or(base_url);
    format!("{root}/wham/usage")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_has_the_codex_shape() {
        let ua = user_agent("0.169.0");
        assert!(ua.starts_with("codex_cli_rs/0.169.0 ("), "{ua}");
        assert!(
            ua.ends_with(&format!(") codex-pool/{}", env!("CARGO_PKG_VERSION"))),
            "{ua}"
        );
        assert!(ua.contains("; "), "{ua}");
    }

    #[test]
    fn usage_probe_sits_beside_codex() {
        assert_eq!(
            usage_url("https://chatgpt.com/backend-api/codex"),
            "https://chatgpt.com/backend-api/wham/usage"
        );
        assert_eq!(
            usage_url("http://127.0.0.1:9/x"),
            "http://127.0.0.1:9/x/wham/usage"
        );
    }

    fn answer(status: u16, body: Vec<u8>) -> reqwest::Response {
        let mut r = http::Response::new(body);
        *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or_default();
        reqwest::Response::from(r)
    }

    #[tokio::test]
    async fn a_success_body_is_read_whole_past_the_error_cap() {
        // The size of upstream's real /models list, five times the error cap.
        let body = vec![b'x'; 300 * 1024];
        let got = read_whole(
            answer(200, body.clone()),
            JSON_BODY_LIMIT,
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(got.map(|b| b.len()), Ok(body.len()));
        // Error bodies stay capped.
        let cut = read_limited(reqwest_body(answer(500, body)), Duration::from_secs(5)).await;
        assert_eq!(cut.len(), ERROR_BODY_LIMIT);
    }

    #[tokio::test]
    async fn a_success_body_past_its_cap_is_a_failure_not_a_cut_answer() {
        let got = read_whole(answer(200, vec![b'x'; 2048]), 1024, Duration::from_secs(5)).await;
        assert!(
            matches!(&got, Err(Failure::ServerError { message, .. }) if message.contains("larger than 1024")),
            "{got:?}"
        );
        let exact = read_whole(answer(200, vec![b'x'; 1024]), 1024, Duration::from_secs(5)).await;
        assert_eq!(exact.map(|b| b.len()), Ok(1024));
    }
}
