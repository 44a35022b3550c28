//! The HTTP transport of the hot path (`POST {base_url}/responses`): hyper's
//! pooled client over hyper-rustls, without reqwest's layers (its own URL
//! parses, the redirect layer, per-request boxing), which the profile in
//! `BENCHMARKS.md` found to be a large share of the gateway's CPU per request.
//!
//! It is set up as `reqwest` is in `super::Client::new`: HTTP/1.1 only, the
//! same connect timeout, TCP_NODELAY and keepalive, a 90 s idle pool, webpki
//! roots with rustls' ring provider, and no redirect ever followed (hyper's
//! client has no redirect layer). A proxy from the environment
//! (`HTTPS_PROXY`, `NO_PROXY`, …, as reqwest reads them) is reqwest's job:
//! `Fast::for_url` gives `None` then and the caller keeps using reqwest.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, TryStreamExt};
use http::{HeaderMap, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as Pooled;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::{error_chain, Failure};

/// A response body as bytes; errors already rendered (`error_chain`).
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, String>> + Send>>;

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// The pooled client and the one URL it posts to.
#[derive(Clone)]
pub(super) struct Fast {
    client: Pooled<Connector, Full<Bytes>>,
    url: Uri,
}

/// Status, headers and body of an answer, from either transport.
pub(super) struct Received {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: BodyStream,
}

impl Fast {
    /// The fast transport for `url`, or `None` when the environment routes
    /// `url` through a proxy (or `url` is not an http(s) URI hyper takes).
    pub(super) fn for_url(url: &str, connect_timeout: Duration) -> Option<Fast> {
        let uri: Uri = url.parse().ok()?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return None;
        }
        let proxies = hyper_util::client::proxy::matcher::Matcher::from_system();
        if proxies.intercept(&uri).is_some() {
            return None;
        }
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(connect_timeout));
        // reqwest's defaults (its `ClientBuilder::new`).
        http.set_keepalive(Some(Duration::from_secs(15)));
        http.set_keepalive_interval(Some(Duration::from_secs(15)));
        http.set_keepalive_retries(Some(3));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config()?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Pooled::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Some(Fast { client, url: uri })
    }

    /// `POST` `body` with `headers` to the URL; the answer's head within
    /// `first_byte_timeout`, classified as `super::transport_failure` does
    /// for reqwest.
    pub(super) async fn post(
        &self,
        headers: HeaderMap,
        body: Bytes,
        first_byte_timeout: Duration,
    ) -> Result<Received, Failure> {
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = self.url.clone();
        *request.headers_mut() = headers;
        let response =
            match tokio::time::timeout(first_byte_timeout, self.client.request(request)).await {
                Err(_) => {
                    return Err(Failure::Timeout {
                        phase: "waiting for response headers",
                        after: first_byte_timeout,
                    })
                }
                Ok(Err(e)) => return Err(failure(&e, &self.url, first_byte_timeout)),
                Ok(Ok(r)) => r,
            };
        let (parts, body) = response.into_parts();
        Ok(Received {
            status: parts.status,
            headers: parts.headers,
            body: Box::pin(body.into_data_stream().map_err(|e| error_chain(&e))),
        })
    }
}

/// reqwest's `rustls-tls` setup: webpki roots, the ring provider, TLS 1.2
/// and 1.3 (ALPN `http/1.1` is set by `enable_http1`, which refuses a
/// config that has its own).
pub(super) fn tls_config() -> Option<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Some(tls)
}

/// A timed-out connect is a timeout (reqwest's `is_timeout` looks for the
/// same `TimedOut` in the chain); anything else is a connection failure, in
/// the words reqwest used (`error sending request for url (…)`).
fn failure(e: &hyper_util::client::legacy::Error, url: &Uri, after: Duration) -> Failure {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return Failure::Timeout {
                phase: "connecting",
                after,
            };
        }
        cur = err.source();
    }
    // hyper's errors never include headers, so no token can leak here.
    Failure::Connect {
        message: format!("error sending request for url ({url}): {}", error_chain(e)),
    }
}
