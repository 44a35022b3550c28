//! The response body type every route returns, its constructors, and the
//! headers every proxied answer carries.

use std::convert::Infallible;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full, StreamBody};
use hyper::body::Frame;

pub(crate) type Body = UnsyncBoxBody<Bytes, Infallible>;

pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

/// A body that yields each chunk as the stream produces it (no buffering).
pub(crate) fn stream<S>(s: S) -> Body
where
    S: Stream<Item = Bytes> + Send + 'static,
{
    StreamBody::new(s.map(|b| Ok::<_, Infallible>(Frame::data(b)))).boxed_unsync()
}

pub(crate) fn json(status: http::StatusCode, value: &serde_json::Value) -> http::Response<Body> {
    json_bytes(status, serde_json::to_vec(value).unwrap_or_default())
}

/// A JSON answer already serialized.
pub(crate) fn json_bytes(status: http::StatusCode, bytes: Vec<u8>) -> http::Response<Body> {
    let mut r = http::Response::new(full(Bytes::from(bytes)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

// Names built at compile time: a string name is parsed on every insert.
const ACCOUNT: http::HeaderName = http::HeaderName::from_static("x-codex-pool-account");
const MODEL: http::HeaderName = http::HeaderName::from_static("openai-model");

/// Headers every proxied answer carries: the account that served it and the
/// model. The values come made: the account's once per account
/// (`pool::Account::name_header`), upstream's `openai-model` shared with its
/// answer (`upstream_model`); a clone of either is a reference count.
pub(crate) fn proxied_headers(
    resp: &mut http::Response<Body>,
    account: Option<http::HeaderValue>,
    model: Option<http::HeaderValue>,
) {
    if let Some(v) = account {
        resp.headers_mut().insert(ACCOUNT, v);
    }
    if let Some(v) = model {
        resp.headers_mut().insert(MODEL, v);
    }
}

/// `text` as a header value, when it can be one.
pub(crate) fn value(text: &str) -> Option<http::HeaderValue> {
    http::HeaderValue::from_str(text).ok()
}

/// A `text/event-stream` response around a body stream.
pub(crate) fn sse_response(body: Body) -> http::Response<Body> {
    let mut r = http::Response::new(body);
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/event-stream"),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-cache"),
    );
    h.insert("x-accel-buffering", http::HeaderValue::from_static("no"));
    r
}
