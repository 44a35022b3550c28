//! One match on method and path; the shared first steps of API routes
//! (client key, in-flight cap, body) live here too.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::body::{self, Body};
use super::{chat, health, models, request, responses, Shared, Surface};
use crate::app::Snapshot;
use crate::error::ApiError;
use crate::keys::{self, ClientKey};
use crate::proxy::Finish;

/// The least time a client gets to send its whole request body.
const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// What every API route knows before its own work starts.
pub struct Ctx {
    pub request_id: String,
    pub snap: Arc<Snapshot>,
    pub key: Option<Arc<ClientKey>>,
    pub headers: HeaderMap,
    pub finish: Finish,
}

pub async fn route(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let started = std::time::Instant::now();
    let request_id = request::request_id(req.headers());
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let mut resp = match (shared.surface, &method, path.as_str()) {
        (_, &Method::GET, "/metrics") => metrics(&shared),
        (Surface::MetricsOnly, _, _) => ApiError::not_found(&path).into_response(),
        (_, &Method::POST, "/v1/chat/completions") => {
            match api(&shared, req, "chat", started, &request_id).await {
                Ok((ctx, bytes)) => chat::handle(ctx, bytes).await,
                Err(resp) => resp,
            }
        }
        (_, &Method::POST, "/v1/responses") => {
            match api(&shared, req, "responses", started, &request_id).await {
                Ok((ctx, bytes)) => responses::handle(ctx, bytes).await,
                Err(resp) => resp,
            }
        }
        (_, &Method::GET, "/v1/models") => match authorize(&shared, req.headers()) {
            Ok(_) => models::list(&shared.app),
            Err(e) => e.into_response(),
        },
        (_, &Method::GET, p) if p.starts_with("/v1/models/") => {
            match authorize(&shared, req.headers()) {
                Ok(_) => models::get(&shared.app, &p["/v1/models/".len()..]),
                Err(e) => e.into_response(),
            }
        }
        (_, &Method::GET, "/healthz") => health::healthz(),
        (_, &Method::GET, "/readyz") => health::readyz(&shared.app),
        (_, _, p) if p.starts_with("/admin/") || p == "/admin" => {
            crate::admin::handle(&shared.app, req).await
        }
        (_, m, p) if known(p) => ApiError::method_not_allowed(m, p).into_response(),
        (_, _, p) => ApiError::not_found(p).into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

fn known(path: &str) -> bool {
    matches!(
        path,
        "/v1/chat/completions"
            | "/v1/responses"
            | "/v1/models"
            | "/healthz"
            | "/readyz"
            | "/metrics"
    ) || path.starts_with("/v1/models/")
}

fn metrics(shared: &Shared) -> Response<Body> {
    let app = &shared.app;
    let mut r = Response::new(body::full(
        app.metrics.scrape(app.snapshot().pool.accounts()),
    ));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<Option<Arc<ClientKey>>, ApiError> {
    let snap = shared.app.snapshot();
    keys::authenticate(&snap.keys, request::client_key(headers))
}

/// Client key → in-flight cap → body. On refusal, the finished error response.
async fn api(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
    route: &'static str,
    started: std::time::Instant,
    request_id: &str,
) -> Result<(Ctx, Bytes), Response<Body>> {
    let app = &shared.app;
    let permit = Arc::clone(&shared.inflight).try_acquire_owned().ok();
    let busy = permit.is_none();
    let mut finish = Finish::new(Arc::clone(app), route, started, permit);
    let fail = |finish: &mut Finish, e: ApiError| {
        finish.end(e.status.as_u16(), &e.code);
        e.into_response()
    };
    if busy {
        return Err(fail(
            &mut finish,
            ApiError::overloaded("in-flight requests"),
        ));
    }
    let snap = app.snapshot();
    let key = match keys::authenticate(&snap.keys, request::client_key(req.headers())) {
        Ok(k) => k,
        Err(e) => return Err(fail(&mut finish, e)),
    };
    let (parts, incoming) = req.into_parts();
    let limit = snap.config.server.max_body_bytes;
    // A body trickled byte by byte would hold an in-flight slot forever.
    let read_limit = snap
        .config
        .server
        .header_read_timeout
        .max(BODY_READ_TIMEOUT);
    let read = request::read_body(&parts.headers, incoming, limit);
    let bytes = match tokio::time::timeout(read_limit, read).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => return Err(fail(&mut finish, e)),
        Err(_) => {
            let e = ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!(
                    "the request body did not arrive within {} s",
                    read_limit.as_secs()
                ),
            );
            return Err(fail(&mut finish, e));
        }
    };
    Ok((
        Ctx {
            request_id: request_id.to_string(),
            snap,
            key,
            headers: parts.headers,
            finish,
        },
        bytes,
    ))
}

impl Ctx {
    /// The per-key checks once the model is known; a refusal is counted.
    pub fn admit(&mut self, model: &str) -> Result<(), ApiError> {
        let Some(key) = &self.key else { return Ok(()) };
        key.admit(model).inspect_err(|e| {
            if e.status == StatusCode::TOO_MANY_REQUESTS {
                self.finish_app()
                    .metrics
                    .client_rate_limited
                    .with_label_values(&[key.name()])
                    .inc();
            }
        })
    }

    fn finish_app(&self) -> &crate::app::App {
        self.finish.app()
    }

    /// Ends the request with an error response.
    pub fn fail(mut self, e: ApiError) -> Response<Body> {
        if e.status.is_server_error() {
            tracing::warn!(request_id = %self.request_id, code = %e.code, "{}", e.message);
        } else {
            tracing::debug!(request_id = %self.request_id, code = %e.code, "{}", e.message);
        }
        self.finish.end(e.status.as_u16(), &e.code);
        e.into_response()
    }

    /// A seed for derived session ids: per client key, so two keys never share one.
    pub fn session_seed(&self) -> &str {
        self.key.as_ref().map_or("", |k| k.name())
    }
}

/// Headers every proxied answer carries.
pub fn proxied_headers(resp: &mut Response<Body>, account: &str, model: Option<&str>) {
    if let Ok(v) = HeaderValue::from_str(account) {
        resp.headers_mut().insert("x-codex-pool-account", v);
    }
    if let Some(v) = model.and_then(|m| HeaderValue::from_str(m).ok()) {
        resp.headers_mut().insert("openai-model", v);
    }
}

/// A `text/event-stream` response around a body stream.
pub fn sse_response(body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    r
}
