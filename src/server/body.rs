//! The response body type every route returns, and its constructors.

use std::convert::Infallible;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full, StreamBody};
use hyper::body::Frame;

pub type Body = UnsyncBoxBody<Bytes, Infallible>;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

pub fn empty() -> Body {
    full(Bytes::new())
}

/// A body that yields each chunk as the stream produces it (no buffering).
pub fn stream<S>(s: S) -> Body
where
    S: Stream<Item = Bytes> + Send + 'static,
{
    StreamBody::new(s.map(|b| Ok::<_, Infallible>(Frame::data(b)))).boxed_unsync()
}

pub fn json(status: http::StatusCode, value: &serde_json::Value) -> http::Response<Body> {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let mut r = http::Response::new(full(Bytes::from(bytes)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}
