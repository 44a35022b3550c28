//! The route table: one match on the path, the method inside it. Handlers and
//! what they share live beside this file (`ctx.rs`, `dispatch.rs`, one file
//! per route); every answer gets the request's `x-request-id` here.

use std::sync::Arc;

use http::{HeaderValue, Method, Request, Response};
use hyper::body::Incoming;

use super::body::{self, Body};
use super::ctx::{admit, authorize};
use super::error::ApiError;
use super::{admin, chat, health, models, request, responses, Shared, Surface};
use crate::route::Route;

pub async fn route(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let started = std::time::Instant::now();
    let request_id = request::request_id(req.headers());
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let not_allowed = || ApiError::method_not_allowed(&method, &path).into_response();
    let mut resp = match path.as_str() {
        "/metrics" => match method {
            Method::GET => metrics(&shared),
            _ => not_allowed(),
        },
        _ if shared.surface == Surface::MetricsOnly => ApiError::not_found(&path).into_response(),
        "/v1/chat/completions" => match method {
            Method::POST => match admit(&shared, req, Route::Chat, started, &request_id).await {
                Ok((ctx, bytes)) => chat::handle(ctx, bytes).await,
                Err(resp) => resp,
            },
            _ => not_allowed(),
        },
        "/v1/responses" => match method {
            Method::POST => {
                match admit(&shared, req, Route::Responses, started, &request_id).await {
                    Ok((ctx, bytes)) => responses::handle(ctx, bytes).await,
                    Err(resp) => resp,
                }
            }
            _ => not_allowed(),
        },
        "/v1/models" => match method {
            Method::GET => match authorize(&shared, req.headers()) {
                Ok(_) => models::list(&shared.app),
                Err(e) => e.into_response(),
            },
            _ => not_allowed(),
        },
        p if p.starts_with("/v1/models/") => match method {
            Method::GET => match authorize(&shared, req.headers()) {
                Ok(_) => models::get(&shared.app, &p["/v1/models/".len()..]),
                Err(e) => e.into_response(),
            },
            _ => not_allowed(),
        },
        "/healthz" => match method {
            Method::GET => health::healthz(),
            _ => not_allowed(),
        },
        "/readyz" => match method {
            Method::GET => health::readyz(&shared.app),
            _ => not_allowed(),
        },
        p if p.starts_with("/admin/") || p == "/admin" => admin::handle(&shared.app, req).await,
        p => ApiError::not_found(p).into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
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
