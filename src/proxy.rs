//! One request's trip through the pool:
//! pick account → send → (on a retryable failure before the first byte, pick
//! again) → hand the stream or the collected answer to the route.
//!
//! Failover ends once output exists for a streaming client: the route relays
//! from there. For a client that did not stream, nothing has reached it until
//! the whole answer is in, so even a mid-stream failure moves to the next account.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use tokio::time::Instant;

use crate::app::{App, Snapshot};
use crate::auth::refresh::{self, RefreshError};
use crate::auth::store::Credentials;
use crate::error::ApiError;
use crate::keys::ClientKey;
use crate::metrics;
use crate::pool::activity::{Attempt, Decision};
use crate::pool::{self, Account, Exhausted, Setback};
use crate::translate::aggregate::Collector;
use crate::translate::responses::with_base_instructions;
use crate::upstream::events::{Event, Usage};
use crate::upstream::sse::{EventStream, COLLECT_DEADLINE, HOLD_BACK_BYTES};
use crate::upstream::Failure;
use sse_stream::Sse;

/// A request refreshes its account's token itself only this close to expiry.
const INLINE_REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// Events held back before the first output, at most.
const HOLD_BACK_LIMIT: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Stop at the first output event and hand over the live stream.
    Stream,
    /// Read the whole stream into a `Collector`.
    Collect,
}

/// What the route asks of the pool.
pub struct Call {
    pub route: &'static str,
    pub request_id: String,
    pub key: Option<Arc<ClientKey>>,
    pub model: String,
    pub session_id: String,
    pub body: Bytes,
}

pub enum Delivery {
    /// Event payloads read before the first output, and the rest of the stream.
    Stream {
        buffered: VecDeque<Sse>,
        events: EventStream,
    },
    Collected(Collector),
}

pub struct Served {
    pub account: Arc<Account>,
    /// Upstream's response headers (`openai-model`, quota).
    pub headers: HeaderMap,
    pub delivery: Delivery,
    /// Time spent waiting on upstream, for the overhead metric.
    pub upstream_wait: Duration,
}

impl Served {
    /// The model upstream says answered (`openai-model`), if it said.
    pub fn upstream_model(&self) -> Option<&str> {
        self.headers
            .get("openai-model")
            .and_then(|v| v.to_str().ok())
    }
}

struct AttemptError {
    failure: Failure,
    setback: Option<Setback>,
}

impl From<Failure> for AttemptError {
    fn from(failure: Failure) -> AttemptError {
        let setback = failure.setback();
        AttemptError { failure, setback }
    }
}

/// Walks the candidates for `call` until one account serves it.
pub async fn serve(
    app: &App,
    snap: &Snapshot,
    call: &Call,
    mode: Mode,
) -> Result<Served, ApiError> {
    let key_cfg = call.key.as_ref().map(|k| &k.config);
    let strategy = key_cfg
        .and_then(|k| k.strategy)
        .unwrap_or(snap.config.pool.strategy);
    let scope = key_cfg.and_then(|k| k.accounts.as_deref());
    let mut decision = Decision {
        time: pool::rfc3339_now(),
        request_id: call.request_id.clone(),
        api_key: key_cfg.map(|k| k.name.clone()),
        route: call.route,
        strategy: strategy.as_str(),
        model: call.model.clone(),
        attempts: Vec::new(),
        served_by: None,
    };
    let candidates = match snap.pool.plan(strategy, scope) {
        Ok(c) => c,
        Err(x) => {
            tracing::info!(request_id = %call.request_id, "no account can serve: {:?}", x);
            app.activity.record(decision);
            return Err(ApiError::from(&x));
        }
    };
    tracing::debug!(request_id = %call.request_id, strategy = strategy.as_str(),
        candidates = ?candidates.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), "routing");
    let pool_cfg = &snap.config.pool;
    let mut upstream_wait = Duration::ZERO;
    let mut failures: Vec<(String, Failure)> = Vec::new();
    for (i, account) in candidates.iter().enumerate() {
        let Some(claimed) = account.claim(Instant::now()) else {
            decision.attempts.push(Attempt {
                account: account.name.clone(),
                outcome: "skipped",
                status: None,
                millis: 0,
            });
            continue;
        };
        account
            .requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let started = Instant::now();
        let result = attempt(app, snap, account, call, mode).await;
        let took = started.elapsed();
        upstream_wait += took;
        app.metrics
            .upstream_duration
            .with_label_values(&[&account.name])
            .observe(took.as_secs_f64());
        match result {
            Ok((headers, delivery)) => {
                claimed.succeeded();
                app.metrics
                    .upstream_attempts
                    .with_label_values(&[&account.name, "ok"])
                    .inc();
                decision.attempts.push(Attempt {
                    account: account.name.clone(),
                    outcome: "ok",
                    status: Some(200),
                    millis: took.as_millis() as u64,
                });
                decision.served_by = Some(account.name.clone());
                app.activity.record(decision);
                return Ok(Served {
                    account: Arc::clone(account),
                    headers,
                    delivery,
                    upstream_wait,
                });
            }
            Err(AttemptError { failure, setback }) => {
                let kind = failure.kind();
                app.metrics
                    .upstream_attempts
                    .with_label_values(&[&account.name, kind])
                    .inc();
                account.set_last_error(kind);
                claimed.failed(
                    setback.as_ref(),
                    pool_cfg.backoff_base,
                    pool_cfg.backoff_max,
                );
                decision.attempts.push(Attempt {
                    account: account.name.clone(),
                    outcome: kind,
                    status: Some(failure.client_status().as_u16()).filter(|_| {
                        !matches!(failure, Failure::Timeout { .. } | Failure::Connect { .. })
                    }),
                    millis: took.as_millis() as u64,
                });
                if !failure.retryable() {
                    tracing::info!(request_id = %call.request_id, account = %account.name, error = %failure, "upstream refused the request; not failing over");
                    app.activity.record(decision);
                    let mut e = ApiError::from(&failure);
                    e.account = Some(account.name.as_str().into());
                    return Err(e);
                }
                if i + 1 < candidates.len() {
                    app.metrics
                        .failovers
                        .with_label_values(&[&account.name, kind])
                        .inc();
                    tracing::info!(request_id = %call.request_id, account = %account.name, reason = kind, error = %failure, "failing over to the next account");
                } else {
                    tracing::info!(request_id = %call.request_id, account = %account.name, reason = kind, error = %failure, "last candidate failed");
                }
                failures.push((account.name.clone(), failure));
            }
        }
    }
    app.activity.record(decision);
    Err(exhausted_error(snap.pool.why_exhausted(scope), &failures))
}

/// Every candidate failed (or none could be claimed): 429 when every account
/// is usage-limited, else 503 `pool_exhausted` naming each failure.
fn exhausted_error(exhausted: Exhausted, failures: &[(String, Failure)]) -> ApiError {
    if failures.is_empty() || matches!(exhausted, Exhausted::UsageLimited { .. }) {
        return ApiError::from(&exhausted);
    }
    let list: Vec<String> = failures.iter().map(|(a, f)| format!("{a}: {f}")).collect();
    let mut e = ApiError::new(
        http::StatusCode::SERVICE_UNAVAILABLE,
        "pool_exhausted",
        format!("no account could serve this request: {}", list.join("; ")),
    );
    if let Some(after) = failures.iter().filter_map(|(_, f)| f.retry_after()).min() {
        e = e.with_retry_after(after);
    }
    e
}

/// Credentials to use now: refreshed first when the access token is about to expire.
async fn fresh_credentials(
    app: &App,
    snap: &Snapshot,
    account: &Arc<Account>,
) -> Result<Arc<Credentials>, AttemptError> {
    let Some(creds) = account.credentials() else {
        return Err(Failure::Unauthorized {
            status: 0,
            message: "no login loaded".into(),
        }
        .into());
    };
    // The background refresher renews tokens well before `refresh_before_expiry`
    // runs out; a request refreshes in line only when its token is about to
    // expire, so it never waits on a flight it does not need.
    if !refresh::due(&creds, INLINE_REFRESH_MARGIN) {
        return Ok(creds);
    }
    match refresh_now(app, snap, account, &creds).await {
        Ok(c) => Ok(c),
        // A proactive refresh that failed transiently: the old token may still work.
        Err(RefreshError::Transient(_))
            if creds
                .expires_at
                .is_some_and(|e| e > pool::quota::unix_now()) =>
        {
            Ok(creds)
        }
        Err(e) => Err(refresh_failure(e)),
    }
}

pub async fn refresh_now(
    app: &App,
    snap: &Snapshot,
    account: &Arc<Account>,
    stale: &Credentials,
) -> Result<Arc<Credentials>, RefreshError> {
    let done = refresh::refresh(
        snap.upstream.http(),
        &snap.config.upstream.issuer,
        account,
        &stale.access_token,
    )
    .await;
    if done.called_issuer {
        let outcome = match &done.result {
            Ok(_) => "ok",
            Err(e) => e.outcome(),
        };
        app.metrics
            .refreshes
            .with_label_values(&[&account.name, outcome])
            .inc();
        if let Err(e) = &done.result {
            tracing::warn!(account = %account.name, error = %e, "token refresh failed");
        }
    }
    done.result
}

fn refresh_failure(e: RefreshError) -> AttemptError {
    AttemptError {
        setback: e.setback(),
        failure: Failure::Unauthorized {
            status: 401,
            message: e.to_string(),
        },
    }
}

async fn attempt(
    app: &App,
    snap: &Snapshot,
    account: &Arc<Account>,
    call: &Call,
    mode: Mode,
) -> Result<(HeaderMap, Delivery), AttemptError> {
    let up = &snap.config.upstream;
    let mut creds = fresh_credentials(app, snap, account).await?;
    let mut replayed = false;
    let mut body = call.body.clone();
    let mut swapped_instructions = false;
    let answer = loop {
        let sent = snap
            .upstream
            .responses(
                &creds,
                &call.session_id,
                body.clone(),
                up.first_byte_timeout,
            )
            .await;
        match sent {
            Ok(a) => break a,
            Err(f) if !swapped_instructions && f.refuses_instructions() => {
                let catalog = app.models.load();
                let rewritten = catalog
                    .base_instructions(&call.model)
                    .and_then(|base| with_base_instructions(&body, base));
                let Some(rewritten) = rewritten else {
                    return Err(f.into());
                };
                tracing::info!(request_id = %call.request_id, model = %call.model,
                    "upstream accepts only the model's own instructions; resending with them and the client's as a developer message");
                swapped_instructions = true;
                body = rewritten;
            }
            Err(Failure::Unauthorized { status: 401, .. }) if !replayed => {
                replayed = true;
                creds = refresh_now(app, snap, account, &creds)
                    .await
                    .map_err(refresh_failure)?;
            }
            Err(f) => return Err(f.into()),
        }
    };
    if let Some(q) = pool::quota::from_headers(&answer.headers) {
        account.set_quota(q);
    }
    let headers = answer.headers;
    let mut events = EventStream::from_response(answer.body);
    match mode {
        Mode::Stream => {
            let mut buffered = VecDeque::new();
            let mut held = 0;
            loop {
                let Some(sse) = events.next(up.idle_timeout).await? else {
                    return Err(Failure::StreamTruncated.into());
                };
                let event = Event::parse(sse.data.as_deref().unwrap_or("")).ok();
                if let Some(f) = event.as_ref().and_then(Event::failure) {
                    return Err(f.into());
                }
                let output = event.is_some_and(|e| e.kind().is_output());
                held += sse.data.as_ref().map_or(0, String::len);
                buffered.push_back(sse);
                // Held-back events are bounded: a stream of only unknown
                // events is relayed once there are many of them, or much.
                if output || buffered.len() >= HOLD_BACK_LIMIT || held >= HOLD_BACK_BYTES {
                    return Ok((headers, Delivery::Stream { buffered, events }));
                }
            }
        }
        Mode::Collect => {
            let mut collector = Collector::default();
            events.set_deadline(COLLECT_DEADLINE);
            loop {
                let Some(sse) = events.next(up.idle_timeout).await? else {
                    return Err(Failure::StreamTruncated.into());
                };
                if collector.push(sse.data.as_deref().unwrap_or(""))? {
                    return Ok((headers, Delivery::Collected(collector)));
                }
            }
        }
    }
}

/// Records the end of one client request: metrics, token usage, budgets,
/// and (after the first byte) what a mid-stream failure does to the account.
/// Dropped without `complete`/`fail`: the client went away.
pub struct Finish {
    app: Arc<App>,
    route: &'static str,
    started: std::time::Instant,
    account: Option<Arc<Account>>,
    key: Option<Arc<ClientKey>>,
    model: String,
    done: bool,
    _permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Finish {
    pub fn new(
        app: Arc<App>,
        route: &'static str,
        started: std::time::Instant,
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Finish {
        app.metrics.inflight.inc();
        Finish {
            app,
            route,
            started,
            account: None,
            key: None,
            model: String::new(),
            done: false,
            _permit: permit,
        }
    }

    pub fn app(&self) -> &App {
        &self.app
    }

    pub fn served(&mut self, account: Arc<Account>, key: Option<Arc<ClientKey>>, model: &str) {
        self.account = Some(account);
        self.key = key;
        self.model = model.to_string();
    }

    pub fn set_model(&mut self, model: &str) {
        if self.model != model {
            self.model = model.to_string();
        }
    }

    /// The request ended with this status and code.
    pub fn end(&mut self, status: u16, code: &str) {
        if self.done {
            return;
        }
        self.done = true;
        let m = &self.app.metrics;
        m.requests
            .with_label_values(&[
                self.route,
                metrics::status_class(status),
                metrics::code_label(code),
            ])
            .inc();
        m.request_duration
            .with_label_values(&[self.route])
            .observe(self.started.elapsed().as_secs_f64());
    }

    /// The answer was whole; counts its tokens.
    pub fn complete(&mut self, usage: Option<&Usage>) {
        if let (Some(u), Some(account)) = (usage, &self.account) {
            let catalog = self.app.models.load();
            let model = catalog.label(&self.model);
            let key = self.key.as_ref().map_or("-", |k| k.name());
            let m = &self.app.metrics.tokens;
            let input = u.input_tokens.saturating_sub(u.cached());
            let output = u.output_tokens.saturating_sub(u.reasoning());
            for (kind, n) in [
                ("input", input),
                ("cached_input", u.cached()),
                ("output", output),
                ("reasoning", u.reasoning()),
            ] {
                m.with_label_values(&[&account.name, key, model, kind])
                    .inc_by(n);
            }
            if let Some(k) = &self.key {
                k.spend(u.total());
            }
        }
        self.end(200, "ok");
    }

    /// Upstream failed after the first byte reached the client. The attempt
    /// was already counted (as `ok`, at its first output); the failure shows
    /// in the request's code and in the account's health.
    pub fn fail(&mut self, failure: &Failure) {
        if let Some(account) = &self.account {
            let cfg = self.app.snapshot();
            account.set_last_error(failure.kind());
            if let Some(s) = failure.setback() {
                account.health().on_setback(
                    &s,
                    Instant::now(),
                    cfg.config.pool.backoff_base,
                    cfg.config.pool.backoff_max,
                );
            }
        }
        self.end(200, failure.kind());
    }

    /// Time to the response headers, and the gateway's own share of it.
    pub fn first_byte(&self, upstream_wait: Duration) {
        let m = &self.app.metrics;
        let ttfb = self.started.elapsed();
        m.time_to_first_byte
            .with_label_values(&[self.route])
            .observe(ttfb.as_secs_f64());
        m.overhead
            .with_label_values(&[self.route])
            .observe(ttfb.saturating_sub(upstream_wait).as_secs_f64());
    }
}

impl Drop for Finish {
    fn drop(&mut self) {
        self.app.metrics.inflight.dec();
        if !self.done {
            self.end(499, "client_disconnected");
        }
    }
}
