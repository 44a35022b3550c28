//! The pool walk: one request's trip through the candidate accounts.
//!
//! pick (`Pool::plan`, `Account::claim`) → send (`attempt::attempt`) → on a
//! retryable failure before the first output, pick again. What one account's
//! try does (credentials, send, hold back or collect) is `proxy/attempt.rs`;
//! what the walk's outcome means in HTTP is `server/error.rs`.
//!
//! Failover ends once output exists for a streaming client: the route relays
//! from there. For a client that did not stream, nothing has reached it until
//! the whole answer is in, so even a mid-stream failure moves to the next account.

mod attempt;
mod bridge;
mod call;
pub(crate) mod socket;

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use tokio::time::Instant;

pub(crate) use crate::affinity::TURN_STATE;
use crate::affinity::{self, Outcome};
use crate::app::{App, Snapshot};
use crate::pool::activity::{Attempt, Decision};
use crate::pool::{Account, Blame, Effect, Exhausted, Policy};
use crate::upstream::Failure;
pub(crate) use attempt::{Delivery, Mode};
pub(crate) use call::{Call, Caller};

pub(crate) struct Served {
    pub account: Arc<Account>,
    /// Upstream's response headers (`openai-model`, quota).
    pub headers: HeaderMap,
    pub delivery: Delivery,
    /// Time spent waiting on upstream, for the overhead metric.
    pub upstream_wait: Duration,
    /// Accounts that failed this request before this one served it.
    pub failovers: u32,
    /// What conversation affinity did (`Outcome::label`).
    pub affinity: &'static str,
}

impl Served {
    /// The model upstream says answered (`openai-model`), if it said.
    pub(crate) fn upstream_model(&self) -> Option<&str> {
        self.upstream_model_header().and_then(|v| v.to_str().ok())
    }

    /// The same, as the header value to pass on (only when it is text).
    pub(crate) fn upstream_model_header(&self) -> Option<&HeaderValue> {
        self.headers
            .get("openai-model")
            .filter(|v| v.to_str().is_ok())
    }

    /// The turn-state token the serving account minted, as the header the
    /// client replays for the rest of its turn (it routes back here).
    pub(crate) fn turn_state(&self) -> Option<(HeaderName, HeaderValue)> {
        let t = self.headers.get(TURN_STATE)?;
        Some((HeaderName::from_static(TURN_STATE), t.clone()))
    }
}

/// Why the walk ended without an account serving.
#[derive(Debug)]
pub(crate) enum ServeError {
    /// No candidate could be planned (every account out, or none in scope).
    NoCandidate(Exhausted),
    /// Upstream refused the request itself: another account would too.
    Refused { account: String, failure: Failure },
    /// Every candidate was tried (or skipped) and none served.
    AllFailed {
        exhausted: Exhausted,
        failures: Vec<(String, Failure)>,
    },
    /// No account in scope may be sent the model: each one's reason.
    ModelUnavailable {
        model: String,
        reasons: Vec<(String, String)>,
    },
}

/// Walks the candidates for `call` until one account serves it.
pub(crate) async fn serve(
    app: &App,
    snap: &Snapshot,
    call: &Call,
    mode: Mode,
) -> Result<Served, ServeError> {
    let key_cfg = call.key.as_ref().map(|k| &k.config);
    let strategy = key_cfg
        .and_then(|k| k.strategy)
        .unwrap_or(snap.config.pool.strategy);
    let scope = key_cfg.and_then(|k| k.accounts.as_deref());
    let mut decision = Decision {
        time: crate::clock::rfc3339_now(),
        request_id: call.request_id.clone(),
        gateway_request_id: call.gateway_request_id.clone(),
        api_key: key_cfg.map(|k| k.name.clone()),
        route: call.route.as_str(),
        strategy: strategy.as_str(),
        model: call.model.clone(),
        attempts: Vec::new(),
        served_by: None,
        affinity: String::new(),
    };
    // A route without conversations (images) neither reads nor fills the tables.
    let enabled = snap.config.affinity.enabled && call.route.has_conversations();
    if enabled && strategy == crate::config::Strategy::RoundRobin {
        app.affinity.recall(&call.conversation).await;
    }
    let preferred = app
        .affinity
        .preferred(&call.conversation, strategy, enabled);
    let planned = snap
        .pool
        .plan_for(strategy, scope, preferred.as_ref().map(|(a, _)| &**a));
    let (candidates, kept) = match planned.map(|(c, k)| (eligible(app, call, c), k)) {
        Ok((Err(reasons), _)) => {
            tracing::info!(request_id = %call.request_id, gateway_request_id = %call.gateway_request_id, model = %call.model, ?reasons, "no account may be sent this model");
            app.activity.record(decision);
            return Err(ServeError::ModelUnavailable {
                model: call.model.clone(),
                reasons,
            });
        }
        Ok((Ok(c), kept)) => (c, kept),
        Err(x) => {
            tracing::info!(request_id = %call.request_id, gateway_request_id = %call.gateway_request_id, "no account can serve: {:?}", x);
            app.activity.record(decision);
            return Err(ServeError::NoCandidate(x));
        }
    };
    let mut placed = affinity::outcome(enabled, preferred.map(|(_, r)| r), kept);
    tracing::debug!(request_id = %call.request_id, gateway_request_id = %call.gateway_request_id, strategy = strategy.as_str(), affinity = %placed.describe(),
        candidates = ?candidates.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), "routing");
    let pool_cfg = &snap.config.pool;
    let policy = Policy::of(pool_cfg);
    let mut upstream_wait = Duration::ZERO;
    let mut failures: Vec<(String, Failure)> = Vec::new();
    // Failures that are not an account's fault spend the request's retry
    // budget; the body's digest tells outlier detection one request from another.
    let mut suspects = 0;
    let mut digest = None;
    for (i, account) in candidates.iter().enumerate() {
        if suspects >= pool_cfg.retry_budget {
            tracing::info!(request_id = %call.request_id, gateway_request_id = %call.gateway_request_id,
                budget = pool_cfg.retry_budget, "retry budget spent on upstream failures; not trying more accounts");
            break;
        }
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
        let result = bridge::attempt(app, snap, account, call, mode).await;
        let took = started.elapsed();
        upstream_wait += took;
        let millis = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
        match result {
            Ok((headers, delivery)) => {
                claimed.succeeded();
                if i > 0 && placed == Outcome::Kept {
                    placed = Outcome::Moved("its account failed this request");
                }
                if placed != Outcome::Off {
                    let minted = headers.get(TURN_STATE).map(HeaderValue::as_bytes);
                    let c = &call.conversation;
                    app.affinity.served(c, &account.name, minted).await;
                }
                app.metrics.affinity(placed.label());
                decision.affinity = placed.describe();
                app.metrics.attempt(&account.name, "ok", took);
                decision.attempts.push(Attempt {
                    account: account.name.clone(),
                    outcome: "ok",
                    status: Some(200),
                    millis,
                });
                decision.served_by = Some(account.name.clone());
                app.activity.record(decision);
                return Ok(Served {
                    account: Arc::clone(account),
                    headers,
                    delivery,
                    upstream_wait,
                    failovers: u32::try_from(failures.len()).unwrap_or(u32::MAX),
                    affinity: placed.label(),
                });
            }
            Err(attempt::AttemptError {
                mut failure,
                setback,
            }) => {
                if let Failure::VersionTooOld { .. } = failure {
                    failure = version_wanted(app, snap, call, failure);
                }
                let kind = failure.kind();
                if let Failure::NotEntitled { .. } = failure {
                    let until = Instant::now() + crate::pool::eligibility::SET_ASIDE;
                    account.models_set_aside.insert(&call.model, until);
                }
                app.metrics.attempt(&account.name, kind, took);
                account.set_last_error(kind);
                let request = || *digest.get_or_insert_with(|| call.digest());
                let blame = Blame::of(failure.blames_account(), request);
                if let Effect::Suspected { .. } = claimed.failed(setback.as_ref(), blame, policy) {
                    suspects += 1;
                }
                decision.attempts.push(Attempt {
                    account: account.name.clone(),
                    outcome: kind,
                    status: Some(failure.client_status().as_u16()).filter(|_| {
                        !matches!(failure, Failure::Timeout { .. } | Failure::Connect { .. })
                    }),
                    millis,
                });
                if !failure.retryable() {
                    tracing::info!(request_id = %call.request_id, gateway_request_id = %call.gateway_request_id, account = %account.name, error = %failure, "upstream refused the request; not failing over");
                    app.activity.record(decision);
                    return Err(ServeError::Refused {
                        account: account.name.clone(),
                        failure,
                    });
                }
                if i + 1 < candidates.len() && suspects < pool_cfg.retry_budget {
                    app.metrics.failover(&account.name, kind);
                    tracing::info!(request_id = %call.request_id, gateway_request_id = %call.gateway_request_id, account = %account.name, reason = kind, error = %failure, "failing over to the next account");
                } else {
                    tracing::info!(request_id = %call.request_id, gateway_request_id = %call.gateway_request_id, account = %account.name, reason = kind, error = %failure, "last candidate failed");
                }
                failures.push((account.name.clone(), failure));
            }
        }
    }
    app.activity.record(decision);
    if !failures.is_empty()
        && failures
            .iter()
            .all(|(_, f)| matches!(f, Failure::NotEntitled { .. }))
    {
        return Err(ServeError::ModelUnavailable {
            model: call.model.clone(),
            reasons: failures
                .into_iter()
                .map(|(a, f)| (a, f.to_string()))
                .collect(),
        });
    }
    Err(ServeError::AllFailed {
        exhausted: snap.pool.why_exhausted(scope),
        failures,
    })
}

/// A "requires a newer version" refusal, told which version the catalog
/// asks for the model and which one was sent; the gateway sends the wanted
/// one from now on unless `client_version` is set in the config. Nothing
/// moves and nothing cools: the next request carries the newer version.
fn version_wanted(app: &App, snap: &Snapshot, call: &Call, failure: Failure) -> Failure {
    let Failure::VersionTooOld { model, message, .. } = failure else {
        return failure;
    };
    let model = model.unwrap_or_else(|| call.model.clone());
    let wanted = app
        .models
        .load()
        .info(&model)
        .and_then(|m| m.minimal_client_version.clone());
    let sent = snap.upstream.sent().version;
    tracing::warn!(request_id = %call.request_id, %model, sent = %sent,
        wanted = wanted.as_deref().unwrap_or("unknown (not in the catalog)"),
        "upstream wants a newer Codex version for this model");
    if let Some(w) = &wanted {
        app.identity
            .learn(w, "a \"requires a newer version\" refusal");
    }
    Failure::VersionTooOld {
        model: Some(model),
        wanted,
        message: format!("{message} (codex-pool sent version {sent})"),
    }
}

/// The candidates that may be sent the call's model (`pool::eligibility`),
/// in their order; when none may, why each may not.
fn eligible(
    app: &App,
    call: &Call,
    candidates: Vec<Arc<Account>>,
) -> Result<Vec<Arc<Account>>, Vec<(String, String)>> {
    let catalog = app.models.load();
    let now = Instant::now();
    let mut reasons = Vec::new();
    let mut kept = Vec::with_capacity(candidates.len());
    for a in candidates {
        match crate::pool::eligibility::check(&a, &call.model, &catalog, now) {
            Ok(()) => kept.push(a),
            Err(why) => reasons.push((a.name.clone(), why.to_string())),
        }
    }
    if kept.is_empty() && !reasons.is_empty() {
        return Err(reasons);
    }
    Ok(kept)
}

/// A digest of a request body: equal bodies are the same request to outlier
/// detection, however often a client sends it. It reads the length and at
/// most the first and last `DIGEST_SPAN` bytes, so it costs the same for any
/// body (a conversation's next turn differs in its length and its tail).
pub(crate) fn body_digest(body: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    const DIGEST_SPAN: usize = 512;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.len().hash(&mut h);
    body[..body.len().min(DIGEST_SPAN)].hash(&mut h);
    body[body.len().saturating_sub(DIGEST_SPAN)..].hash(&mut h);
    h.finish()
}
