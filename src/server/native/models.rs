//! `GET /backend-api/codex/models?client_version=…`: the Codex catalog in the
//! backend's own shape (`{"models": [ModelInfo…]}`, with an `ETag`), as the
//! background refresh fetched it from upstream (`catalog::Catalog::native`,
//! merged across the accounts' plans). The list is fetched ungated
//! (`catalog::UNGATED_CLIENT_VERSION`); the caller's `client_version` then
//! leaves out the models that need a newer Codex, as the backend would (the
//! CLI's requests carry its own version, which the backend would refuse).
//!
//! Before the first upstream fetch there is no such list: the answer is a
//! `503`, on which the CLI uses the catalog it was built with. A made-up list
//! would replace the models' own prompts with the gateway's.

use std::sync::Arc;
use std::time::Duration;

use http::{header, HeaderMap, HeaderValue, Response, StatusCode};

use super::super::body::{self, Body};
use super::super::ctx::authorize;
use super::super::error::{ApiError, Code};
use super::super::Shared;
use super::forward;
use crate::version::Version;

pub(super) fn handle(
    shared: &Arc<Shared>,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Response<Body> {
    let mut presented = headers.clone();
    forward::strip_caller_login(&mut presented);
    if let Err(e) = authorize(shared, &presented) {
        return e.into_response();
    }
    let catalog = shared.app.models.load();
    let Some(native) = catalog.native.as_ref() else {
        return ApiError::with_status(
            StatusCode::SERVICE_UNAVAILABLE,
            Code::UpstreamUnavailable,
            "the models list has not been fetched from upstream yet; the Codex CLI uses its built-in list meanwhile",
        )
        .with_retry_after(Duration::from_secs(30))
        .into_response();
    };
    let caller = query
        .and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "client_version")
                .map(|(_, v)| v.into_owned())
        })
        .and_then(|v| Version::parse(&v));
    let gated = caller.and_then(|v| catalog.native_for(v));
    let native = gated.as_ref().unwrap_or(native);
    let etag = HeaderValue::from_str(&native.etag).ok();
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == native.etag));
    let mut resp = if fresh {
        let mut r = Response::new(body::full(bytes::Bytes::new()));
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = Response::new(body::full(native.body.clone()));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r
    };
    if let Some(etag) = etag {
        resp.headers_mut().insert(header::ETAG, etag);
    }
    resp
}
