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

/// Headers every proxied answer carries.
pub(crate) fn proxied_headers(resp: &mut http::Response<Body>, account: &str, model: Option<&str>) {
    if let Ok(v) = http::HeaderValue::from_str(account) {
        resp.headers_mut().insert("x-codex-pool-account", v);
    }
    if let Some(v) = model.and_then(|m| http::HeaderValue::from_str(m).ok()) {
        resp.headers_mut().insert("openai-model", v);
    }
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
