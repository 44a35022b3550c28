//! The route table: one match on the path, the method inside it. Handlers and
//! what they share live beside this file (`ctx.rs`, `dispatch.rs`, one file
//! per route); every answer gets the request's `x-request-id` here.

use std::sync::Arc;

use http::{HeaderValue, Method, Request, Response};
use hyper::body::Incoming;

use super::body::{self, Body};
use super::ctx::{admit, authorize, style_of};
use super::error::ApiError;
use super::{
    admin, chat, console, guard, images, messages, models, native, readiness, request, responses,
    usage, ws, Shared, Surface,
};
use crate::route::Route;

pub(super) async fn route(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let started = std::time::Instant::now();
    let ids = request::RequestId::of(req.headers(), &shared.ids);
    let guarded = if shared.loopback {
        let snap = shared.app.snapshot();
        guard::check(req.headers(), &snap.config.server.allowed_origins)
    } else {
        Ok(())
    };
    let mut resp = match guarded {
        Ok(()) => table(&shared, req, started, &ids).await,
        Err(e) => e.into_response(),
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(ids.answered()) {
        h.insert("x-request-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&ids.id) {
        h.insert("x-codex-pool-request-id", v);
    }
    resp
}

async fn table(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
    started: std::time::Instant,
    ids: &request::RequestId,
) -> Response<Body> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let not_allowed = || ApiError::method_not_allowed(&method, &path).into_response();
    match path.as_str() {
        "/metrics" => match method {
            Method::GET => metrics(shared, req.headers()),
            _ => not_allowed(),
        },
        _ if shared.surface == Surface::MetricsOnly => ApiError::not_found(&path).into_response(),
        "/v1/chat/completions" => match method {
            Method::POST => match admit(shared, req, Route::Chat, started, ids).await {
                Ok((ctx, bytes)) => chat::handle(ctx, bytes).await,
                Err(resp) => resp,
            },
            _ => not_allowed(),
        },
        "/v1/responses" => match method {
            Method::POST => match admit(shared, req, Route::Responses, started, ids).await {
                Ok((ctx, bytes)) => responses::handle(ctx, bytes).await,
                Err(resp) => resp,
            },
            Method::GET if ws::is_upgrade(req.headers()) => {
                ws::upgrade(shared, req, Route::ResponsesWs, Vec::new(), ids)
            }
            _ => not_allowed(),
        },
        "/v1/messages" => match method {
            Method::POST => match admit(shared, req, Route::Messages, started, ids).await {
                Ok((ctx, bytes)) => messages::handle(ctx, bytes).await,
                Err(resp) => resp,
            },
            _ => anthropic_not_allowed(&method, &path, ids),
        },
        "/v1/messages/count_tokens" => match method {
            Method::POST => match admit(shared, req, Route::CountTokens, started, ids).await {
                Ok((ctx, bytes)) => messages::count_tokens(ctx, bytes),
                Err(resp) => resp,
            },
            _ => anthropic_not_allowed(&method, &path, ids),
        },
        "/v1/images/generations" => match method {
            Method::POST => match admit(shared, req, Route::Images, started, ids).await {
                Ok((ctx, bytes)) => images::generations(ctx, bytes).await,
                Err(resp) => resp,
            },
            _ => not_allowed(),
        },
        "/v1/images/edits" => match method {
            Method::POST => match admit(shared, req, Route::ImageEdits, started, ids).await {
                Ok((ctx, bytes)) => images::edits(ctx, bytes).await,
                Err(resp) => resp,
            },
            _ => not_allowed(),
        },
        "/v1/models" => match method {
            Method::GET => {
                let style = models::style(req.headers());
                match authorize(shared, req.headers()) {
                    Ok(_) => models::list(&shared.app, style),
                    Err(e) => e.into_response_as(style, Some(ids.answered())),
                }
            }
            _ => not_allowed(),
        },
        p if p.starts_with("/v1/models/") => match method {
            Method::GET => {
                let style = models::style(req.headers());
                match authorize(shared, req.headers()) {
                    Ok(_) => models::get(&shared.app, &p["/v1/models/".len()..], style),
                    Err(e) => e.into_response_as(style, Some(ids.answered())),
                }
            }
            _ => not_allowed(),
        },
        "/v1/usage" => match method {
            Method::GET => match authorize(shared, req.headers()) {
                Ok(Some(key)) => {
                    usage::own(&shared.app, &key, req.uri().query().unwrap_or("")).await
                }
                Ok(None) => {
                    ApiError::unauthorized("/v1/usage tells a client key its own usage: send one")
                        .into_response()
                }
                Err(e) => e.into_response(),
            },
            _ => not_allowed(),
        },
        "/healthz" => match method {
            Method::GET => readiness::healthz(),
            _ => not_allowed(),
        },
        "/readyz" => match method {
            Method::GET => readiness::readyz(&shared.app, shared.loopback),
            _ => not_allowed(),
        },
        p if p.starts_with("/admin/") || p == "/admin" => admin::handle(&shared.app, req).await,
        p if console::owns(p) => console::route(shared, req).await,
        p if native::owns(p) => native::route(shared, req, started, ids).await,
        p => ApiError::not_found(p).into_response(),
    }
}

/// A wrong method on a Messages route, in Anthropic's envelope.
fn anthropic_not_allowed(method: &Method, path: &str, ids: &request::RequestId) -> Response<Body> {
    ApiError::method_not_allowed(method, path)
        .into_response_as(style_of(Route::Messages), Some(ids.answered()))
}

/// On a listener off loopback (of the main surface), `/metrics` names
/// accounts, keys and quota: it needs the admin token or a client key. The
/// separate `[metrics].listen` serves it to whoever can reach that address.
fn metrics(shared: &Shared, headers: &http::HeaderMap) -> Response<Body> {
    let app = &shared.app;
    if !shared.loopback && shared.surface == Surface::Api {
        let snap = app.snapshot();
        let allowed = admin::presents_token(&snap, headers)
            || matches!(authorize(shared, headers), Ok(Some(_)));
        if !allowed {
            return ApiError::unauthorized(
                "/metrics on this listener needs the admin token or a client key",
            )
            .into_response();
        }
    }
    let mut r = Response::new(body::full(
        app.metrics.scrape(app.snapshot().pool.accounts()),
    ));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}
