//! One request to the ChatGPT backend beside `/responses`, sent with an
//! account's credentials and answered as upstream answered it (any status):
//! the Codex CLI's server-side history and notes (`/codex/alpha/*`,
//! `server/native/alpha.rs`). Bodies both ways are bounded.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use super::{read_whole, transport_failure, Client, Failure};
use crate::auth::file::Credentials;

/// The largest answer passed through.
pub(super) const ANSWER_LIMIT: usize = 4 * 1024 * 1024;

/// Upstream's answer, whatever its status.
pub struct Passed {
    pub status: StatusCode,
    pub content_type: Option<HeaderValue>,
    pub body: Bytes,
}

impl Client {
    /// `method url` with `creds` (the gateway's identity and the account's
    /// token; nothing of the caller's) and `body` as JSON when not empty.
    pub async fn pass(
        &self,
        method: Method,
        url: &str,
        creds: &Credentials,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Passed, Failure> {
        let mut headers: HeaderMap = self.auth_headers(creds)?;
        if !body.is_empty() {
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        let send = self
            .http
            .request(method, url)
            .headers(headers)
            .body(body)
            .send();
        let response = match tokio::time::timeout(timeout, send).await {
            Err(_) => {
                return Err(Failure::Timeout {
                    phase: "a passed-through request",
                    after: timeout,
                })
            }
            Ok(Err(e)) => return Err(transport_failure(&e, timeout)),
            Ok(Ok(r)) => r,
        };
        let status = response.status();
        let content_type = response.headers().get(http::header::CONTENT_TYPE).cloned();
        let body = read_whole(response, ANSWER_LIMIT, timeout).await?;
        Ok(Passed {
            status,
            content_type,
            body: Bytes::from(body),
        })
    }
}
