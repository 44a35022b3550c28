//! The admit phase every API route shares, and what a route knows once its
//! request is admitted: in-flight cap → client key → the key's budgets and
//! rate (one request spent here, before a byte of the body is read, on every
//! route that reads one, `count_tokens` included) → body (bounded, timed).
//! What needs the model (`Ctx::admit_model`: its length, the key's
//! allow-list) runs once the route has parsed it, and awaits nothing.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use hyper::body::Incoming;
use tokio::sync::OwnedSemaphorePermit;

use super::body::Body;
use super::error::{ApiError, Code, Style};
use super::ledger::Ledger;
use super::{request, Shared};
use crate::app::{App, Snapshot};
use crate::keys::{self, ClientKey, Refusal};
use crate::route::Route;

/// The least time a client gets to send its whole request body.
const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The longest `model` a request may name.
pub(super) const MAX_MODEL_BYTES: usize = 256;

/// What every API route knows before its own work starts.
pub(super) struct Ctx {
    /// The id the client knows the request by: its own `x-request-id`, else
    /// the gateway's.
    pub request_id: String,
    /// The gateway's own id, unique whatever the client sent.
    pub gateway_request_id: String,
    pub snap: Arc<Snapshot>,
    pub key: Option<Arc<ClientKey>>,
    pub headers: HeaderMap,
    pub ledger: Ledger,
    /// The body's bytes held against `server.max_inflight_body_bytes`, until
    /// the request no longer holds its body (after the pool walk).
    pub body_permit: Option<OwnedSemaphorePermit>,
    /// The envelope the route's errors are written in.
    pub style: Style,
}

/// The error envelope of a route's clients.
pub(super) fn style_of(route: Route) -> Style {
    match route {
        Route::Chat
        | Route::Responses
        | Route::Codex
        | Route::ResponsesWs
        | Route::CodexWs
        | Route::Images
        | Route::ImageEdits => Style::OpenAi,
        Route::Messages | Route::CountTokens => Style::Anthropic,
    }
}

/// The client key of a request to a route that reads no body (`/v1/models`).
pub(super) fn authorize(
    shared: &Shared,
    headers: &HeaderMap,
) -> Result<Option<Arc<ClientKey>>, ApiError> {
    let snap = shared.app.snapshot();
    keys::authenticate(&snap.keys, request::client_key(headers)).map_err(|r| ApiError::from(&r))
}

/// In-flight cap → client key → body. On refusal, the finished error response.
pub(super) async fn admit(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
    route: Route,
    started: Instant,
    ids: &request::RequestId,
) -> Result<(Ctx, Bytes), Response<Body>> {
    let app = &shared.app;
    let permit = Arc::clone(&shared.inflight).try_acquire_owned().ok();
    let busy = permit.is_none();
    let mut ledger = Ledger::open(Arc::clone(app), route, started, permit);
    ledger.ids(ids.answered(), &ids.id);
    let style = style_of(route);
    let fail = |ledger: &mut Ledger, e: ApiError| {
        ledger.refuse(&e);
        e.into_response_as(style, Some(ids.answered()))
    };
    if busy {
        return Err(fail(
            &mut ledger,
            ApiError::overloaded("in-flight requests"),
        ));
    }
    let snap = app.snapshot();
    let key = match keys::authenticate(&snap.keys, request::client_key(req.headers())) {
        Ok(k) => k,
        Err(r) => return Err(fail(&mut ledger, ApiError::from(&r))),
    };
    if let Some(k) = &key {
        ledger.key(k.name());
    }
    // Rate and budgets need no body: a limited key is refused before it is
    // read, and its rate is spent here, so it cannot park bodies past it.
    if let Some(k) = &key {
        if let Err(r) = admit_key(app, k).await {
            if matches!(r, Refusal::RateLimited { .. }) {
                app.metrics.client_rate_limited(k.name());
            }
            return Err(fail(&mut ledger, ApiError::from(&r)));
        }
    }
    let (parts, incoming) = req.into_parts();
    // A reload may raise the body limit past the budget sized at start: such
    // a body is too large (413), not a wait that can never end (503).
    let limit = snap
        .config
        .server
        .max_body_bytes
        .min(shared.body_budget_bytes);
    // A body trickled byte by byte would hold an in-flight slot forever.
    let read_limit = snap
        .config
        .server
        .header_read_timeout
        .max(BODY_READ_TIMEOUT);
    let media = match route {
        Route::ImageEdits => request::Media::Form,
        _ => request::Media::Json,
    };
    let read = request::read_body(&parts.headers, incoming, limit, &shared.body_budget, media);
    let (bytes, permit) = match tokio::time::timeout(read_limit, read).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => return Err(fail(&mut ledger, e)),
        Err(_) => {
            let e = ApiError::new(
                Code::RequestTimeout,
                format!(
                    "the request body did not arrive within {} s",
                    read_limit.as_secs()
                ),
            );
            return Err(fail(&mut ledger, e));
        }
    };
    Ok((
        Ctx {
            request_id: ids.answered().to_string(),
            gateway_request_id: ids.id.clone(),
            snap,
            key,
            headers: parts.headers,
            ledger,
            body_permit: Some(permit),
            style,
        },
        bytes,
    ))
}

/// The key's budgets, then one request of its rate (counted where the key
/// says: `keys/rate.rs`).
async fn admit_key(app: &App, key: &ClientKey) -> Result<(), Refusal> {
    key.admit_request()?;
    key.take_rate(app.store.as_deref()).await
}

impl Ctx {
    pub(super) fn app(&self) -> &Arc<App> {
        self.ledger.app()
    }

    /// Who asks the pool (`proxy::Call::new`): this request's route, ids,
    /// key and headers.
    pub(super) fn caller(&self) -> crate::proxy::Caller<'_> {
        crate::proxy::Caller {
            route: self.ledger.route(),
            request_id: &self.request_id,
            gateway_request_id: &self.gateway_request_id,
            key: self.key.as_ref(),
            headers: &self.headers,
        }
    }

    /// The checks once the body has named the model: its length (a client
    /// string the gateway keeps in logs and the activity view), then the
    /// key's model allow-list. Nothing here waits: a parsed body is never
    /// held across a store round trip.
    pub(super) fn admit_model(&mut self, model: &str) -> Result<(), ApiError> {
        if model.len() > MAX_MODEL_BYTES {
            return Err(ApiError::new(
                Code::InvalidRequest,
                format!(
                    "'model' is {} bytes long; model names are at most {MAX_MODEL_BYTES}",
                    model.len()
                ),
            )
            .with_param("model"));
        }
        self.ledger.asked(model);
        let Some(key) = &self.key else { return Ok(()) };
        key.admit_listed(model).map_err(|r| ApiError::from(&r))
    }

    /// `n` more requests of the key's rate, for a request that counts as
    /// several (images: one per image; admission spent the first).
    pub(super) async fn take_more(&mut self, n: u32) -> Result<(), ApiError> {
        let Some(key) = self.key.clone() else {
            return Ok(());
        };
        for _ in 0..n {
            if let Err(r) = key.take_rate(self.ledger.app().store.as_deref()).await {
                if matches!(r, Refusal::RateLimited { .. }) {
                    self.ledger.app().metrics.client_rate_limited(key.name());
                }
                return Err(ApiError::from(&r));
            }
        }
        Ok(())
    }

    /// Ends the request with an error response.
    pub(super) fn fail(mut self, e: ApiError) -> Response<Body> {
        if e.status.is_server_error() {
            tracing::warn!(request_id = %self.request_id, gateway_request_id = %self.gateway_request_id, code = %e.code, "{}", e.message);
        } else {
            tracing::debug!(request_id = %self.request_id, gateway_request_id = %self.gateway_request_id, code = %e.code, "{}", e.message);
        }
        self.ledger.refuse(&e);
        e.into_response_as(self.style, Some(&self.request_id))
    }

    /// Which backend model `requested` means (`[models]` aliases, effort
    /// suffixes); names the catalog knows keep their suffix.
    pub(super) fn resolve_model(&self, requested: &str) -> crate::translate::Resolved {
        let models = &self.snap.config.models;
        let catalog = self.app().models.load();
        let roles = catalog.roles();
        let mut resolved = crate::translate::resolve_model(
            requested,
            &models.aliases,
            models.builtin_aliases,
            &roles,
            |m| catalog.models.iter().any(|x| x.slug == m),
        );
        // `-fast` only where the catalog gives the model the priority tier.
        if resolved.fast
            && !catalog
                .info(&resolved.model)
                .is_some_and(|m| m.has_priority_tier())
        {
            tracing::debug!(model = %resolved.model, "-fast asked for a model without the priority tier; sent without it");
            resolved.fast = false;
        }
        resolved
    }

    /// A seed for derived session ids: per client key, so two keys never share one.
    pub(super) fn session_seed(&self) -> &str {
        self.key.as_ref().map_or("", |k| k.name())
    }
}
