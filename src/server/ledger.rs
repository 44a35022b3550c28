//! The record phase: how one client request ended — its metrics, the tokens it
//! spent against its key's budgets, and (after the first byte) what a
//! mid-stream failure does to the account that served it.
//!
//! A `Ledger` is opened when a request is admitted and travels with it to the
//! end of its answer; dropped without `complete`/`fail`/`end`, the client
//! went away (or, dropped while a panic unwinds, the gateway has a bug).
//!
//! When it ends, what it learned becomes one `usage::Record` handed to the
//! usage writer (rollups, access log): a `try_send`, never an await.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::error::ApiError;
use crate::app::App;
use crate::config::PoolConfig;
use crate::keys::ClientKey;
use crate::pool::{Account, Blame, Policy};
use crate::route::Route;
use crate::upstream::events::{Event, Usage};
use crate::upstream::Failure;
use crate::usage::Record;

pub(super) struct Ledger {
    app: Arc<App>,
    route: Route,
    started: Instant,
    served: Option<ServedBy>,
    done: bool,
    _permit: Option<tokio::sync::OwnedSemaphorePermit>,
    /// What the usage record says beyond the outcome.
    note: Note,
}

/// What a request's usage record needs that the ledger learns on the way.
#[derive(Default)]
struct Note {
    request_id: String,
    gateway_request_id: String,
    key: Option<String>,
    asked: Option<String>,
    ttfb: Option<Duration>,
    usage: Option<Usage>,
    failovers: u32,
    affinity: Option<&'static str>,
}

/// Who served the request, known once the pool walk succeeded.
struct ServedBy {
    account: Arc<Account>,
    key: Option<Arc<ClientKey>>,
    model: String,
    /// The request's own snapshot's backoff and outlier threshold, for a
    /// mid-stream setback.
    policy: Policy,
    /// Tells this request from others to outlier detection.
    request: u64,
}

impl Ledger {
    pub(super) fn open(
        app: Arc<App>,
        route: Route,
        started: Instant,
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Ledger {
        app.metrics.request_started();
        Ledger {
            app,
            route,
            started,
            served: None,
            done: false,
            _permit: permit,
            note: Note::default(),
        }
    }

    /// The request's ids (the client's and the gateway's).
    pub(super) fn ids(&mut self, request_id: &str, gateway_request_id: &str) {
        self.note.request_id = request_id.to_string();
        self.note.gateway_request_id = gateway_request_id.to_string();
    }

    /// The client key the request authenticated with.
    pub(super) fn key(&mut self, name: &str) {
        self.note.key = Some(name.to_string());
    }

    /// The model the request asked for.
    pub(super) fn asked(&mut self, model: &str) {
        self.note.asked = Some(model.to_string());
    }

    /// The pool walk's failovers and affinity outcome.
    pub(super) fn walk(&mut self, failovers: u32, affinity: Option<&'static str>) {
        self.note.failovers = failovers;
        self.note.affinity = affinity;
    }

    pub(super) fn app(&self) -> &Arc<App> {
        &self.app
    }

    pub(super) fn route(&self) -> Route {
        self.route
    }

    /// The pool walk found an account; `pool` is the request's own config.
    pub(super) fn served(
        &mut self,
        account: Arc<Account>,
        key: Option<Arc<ClientKey>>,
        model: &str,
        pool: &PoolConfig,
        request: u64,
    ) {
        self.served = Some(ServedBy {
            account,
            key,
            model: model.to_string(),
            policy: Policy::of(pool),
            request,
        });
    }

    /// An event relayed to the client: an encrypted blob in it belongs to the
    /// account that served it.
    pub(super) fn observe(&self, event: &Event<'_>) {
        if let Some(s) = &self.served {
            self.app.affinity.observe(event, &s.account.name);
        }
    }

    /// The model the answer itself reported, when it says one.
    pub(super) fn set_model(&mut self, model: &str) {
        if let Some(s) = &mut self.served {
            if s.model != model {
                s.model = model.to_string();
            }
        }
    }

    /// One of several upstream calls that answer this request together (the
    /// images routes' `n`) spent `usage` on `account`: its tokens, against
    /// the key's budgets too. The request itself ends with `end`.
    pub(super) fn spent(
        &self,
        account: &Account,
        key: Option<&ClientKey>,
        model: &str,
        usage: &Usage,
    ) {
        let catalog = self.app.models.load();
        let name = key.map_or("-", |k| k.name());
        self.app
            .metrics
            .tokens(&account.name, name, catalog.label(model), usage);
        if let Some(k) = key {
            k.spend(usage.total());
        }
    }

    /// The request ended with this status and code label.
    pub(super) fn end(&mut self, status: u16, code: &'static str) {
        if self.done {
            return;
        }
        self.done = true;
        let latency = self.started.elapsed();
        self.app
            .metrics
            .request_ended(self.route, status, code, latency);
        let record = self.record(status, code, latency);
        if !self.app.usage.record(record) {
            self.app.metrics.usage_write_failed("queue_full");
        }
    }

    /// The usage record of the request that ended with `status` and `code`.
    fn record(&mut self, status: u16, code: &'static str, latency: Duration) -> Record {
        let n = std::mem::take(&mut self.note);
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let u = n.usage.unwrap_or_default();
        Record {
            time: crate::clock::rfc3339_now(),
            unix: crate::clock::unix_now(),
            request_id: n.request_id,
            gateway_request_id: n.gateway_request_id,
            route: self.route.as_str(),
            key: n.key,
            account: self.served.as_ref().map(|s| s.account.name.clone()),
            model: n.asked,
            model_served: self.served.as_ref().map(|s| s.model.clone()),
            status,
            code,
            latency_ms: millis(latency),
            ttfb_ms: n.ttfb.map(millis),
            input_tokens: u.input_tokens,
            cached_tokens: u.cached(),
            output_tokens: u.output_tokens,
            reasoning_tokens: u.reasoning(),
            affinity: n.affinity,
            failovers: n.failovers,
        }
    }

    /// The request ended with an error response.
    pub(super) fn refuse(&mut self, e: &ApiError) {
        self.end(e.status.as_u16(), e.code.label());
    }

    /// The answer was whole; counts its tokens.
    pub(super) fn complete(&mut self, usage: Option<&Usage>) {
        if let (Some(u), Some(s)) = (usage, &self.served) {
            let catalog = self.app.models.load();
            let model = catalog.label(&s.model);
            let key = s.key.as_ref().map_or("-", |k| k.name());
            self.app.metrics.tokens(&s.account.name, key, model, u);
            if let Some(k) = &s.key {
                k.spend(u.total());
            }
            self.note.usage = Some(u.clone());
        }
        self.end(200, "ok");
    }

    /// Upstream failed after the first byte reached the client. The attempt
    /// was already counted (as `ok`, at its first output); the failure shows
    /// in the request's code and in the account's health.
    pub(super) fn fail(&mut self, failure: &Failure) {
        if let Some(s) = &self.served {
            s.account.set_last_error(failure.kind());
            let blame = Blame::of(failure.blames_account(), || s.request);
            s.account
                .failed(failure.setback().as_ref(), blame, s.policy);
        }
        self.end(200, failure.kind());
    }

    /// Time to the response headers, and the gateway's own share of it.
    pub(super) fn first_byte(&mut self, upstream_wait: Duration) {
        let ttfb = self.started.elapsed();
        self.note.ttfb = Some(ttfb);
        self.app
            .metrics
            .first_byte(self.route, ttfb, ttfb.saturating_sub(upstream_wait));
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        self.app.metrics.request_left();
        if std::thread::panicking() {
            // A bug, not the client: the server answers 500 (server/mod.rs).
            self.end(500, "internal_error");
        } else if !self.done {
            self.end(499, "client_disconnected");
        }
    }
}
