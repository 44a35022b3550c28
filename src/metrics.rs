//! Prometheus metrics, registered into a registry this struct owns (no globals).
//!
//! Every update goes through a method here, so each series' label order lives
//! in this file alone. Label values are bounded: routes are the `Route` enum,
//! accounts and client keys come from config, models are the known catalog or
//! `other`, codes are `&'static str` from the error enums. Account gauges are
//! refreshed from the live accounts at scrape time.

mod accounts;
mod bridge;
mod socket;

use std::sync::Arc;

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use std::time::Duration;

use crate::pool::Account;
use crate::route::Route;
use crate::upstream::events::Usage;

const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];
const OVERHEAD_BUCKETS: &[f64] = &[
    0.000_05, 0.0001, 0.000_25, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
];

pub struct Metrics {
    registry: Registry,
    /// Account gauges are cleared and refilled per scrape; one scrape at a time.
    scrape: std::sync::Mutex<()>,
    requests: IntCounterVec,
    request_duration: HistogramVec,
    time_to_first_byte: HistogramVec,
    overhead: HistogramVec,
    inflight: IntGauge,
    upstream_attempts: IntCounterVec,
    upstream_duration: HistogramVec,
    failovers: IntCounterVec,
    tokens: IntCounterVec,
    account_state: IntGaugeVec,
    quota_used: GaugeVec,
    quota_reset: GaugeVec,
    cooldown_until: GaugeVec,
    token_expiry: GaugeVec,
    unsaved_login: IntGaugeVec,
    backup_failed: IntGaugeVec,
    login_unreadable: IntGaugeVec,
    refreshes: IntCounterVec,
    client_rate_limited: IntCounterVec,
    config_reloads: IntCounterVec,
    models_refreshes: IntCounterVec,
    affinity: IntCounterVec,
    blobs_stripped: IntCounterVec,
    store_up: IntGaugeVec,
    usage_write_failures: IntCounterVec,
    /// The Responses WebSocket's metrics.
    pub socket: socket::Sockets,
    /// HTTP conversations on kept upstream sockets.
    pub bridge: bridge::Bridge,
}

fn opts(name: &str, help: &str) -> Opts {
    Opts::new(name, help)
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let counter =
            |name: &str, help: &str, labels: &[&str]| -> Result<IntCounterVec, prometheus::Error> {
                let c = IntCounterVec::new(opts(name, help), labels)?;
                registry.register(Box::new(c.clone()))?;
                Ok(c)
            };
        let histogram = |name: &str,
                         help: &str,
                         labels: &[&str],
                         buckets: &[f64]|
         -> Result<HistogramVec, prometheus::Error> {
            let h = HistogramVec::new(
                HistogramOpts::new(name, help).buckets(buckets.to_vec()),
                labels,
            )?;
            registry.register(Box::new(h.clone()))?;
            Ok(h)
        };
        let gauge =
            |name: &str, help: &str, labels: &[&str]| -> Result<GaugeVec, prometheus::Error> {
                let g = GaugeVec::new(opts(name, help), labels)?;
                registry.register(Box::new(g.clone()))?;
                Ok(g)
            };
        let inflight = IntGauge::new(
            "codex_pool_inflight_requests",
            "Client requests being served now.",
        )?;
        registry.register(Box::new(inflight.clone()))?;
        let account_state = IntGaugeVec::new(
            opts(
                "codex_pool_account_state",
                "1 for the account's current state, 0 for the others.",
            ),
            &["account", "state"],
        )?;
        registry.register(Box::new(account_state.clone()))?;
        let unsaved_login = IntGaugeVec::new(
            opts(
                "codex_pool_account_unsaved_login",
                "1 while the account holds refreshed tokens its auth file could not take (a restart would lose the login).",
            ),
            &["account"],
        )?;
        registry.register(Box::new(unsaved_login.clone()))?;
        let backup_failed = IntGaugeVec::new(
            opts(
                "codex_pool_store_backup_failed",
                "1 while the store's login could not be written to the account's auth file (with [store]; a Redis without persistence that restarts then depends on the replicas' memory).",
            ),
            &["account"],
        )?;
        registry.register(Box::new(backup_failed.clone()))?;
        let login_unreadable = IntGaugeVec::new(
            opts(
                "codex_pool_store_login_unreadable",
                "1 while the store's login for the account does not open with this replica's encryption key (with [store]).",
            ),
            &["account"],
        )?;
        registry.register(Box::new(login_unreadable.clone()))?;
        let build_info = IntGaugeVec::new(
            opts("codex_pool_build_info", "Always 1; the version is a label."),
            &["version"],
        )?;
        registry.register(Box::new(build_info.clone()))?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        let store_up = IntGaugeVec::new(
            opts(
                "codex_pool_store_up",
                "1 while the shared store ([store]) answers, 0 while it does not; absent without [store].",
            ),
            &["backend"],
        )?;
        registry.register(Box::new(store_up.clone()))?;
        Ok(Metrics {
            socket: socket::Sockets::new(&registry)?,
            bridge: bridge::Bridge::new(&registry)?,
            store_up,
            usage_write_failures: counter(
                "codex_pool_usage_write_failures_total",
                "Usage and access-log writes that failed (retried: sqlite, redis; lost: access_log, queue_full).",
                &["sink"],
            )?,
            requests: counter(
                "codex_pool_requests_total",
                "Client requests by route, status class and error code.",
                &["route", "status_class", "code"],
            )?,
            request_duration: histogram(
                "codex_pool_request_duration_seconds",
                "Whole client request time, to the last byte.",
                &["route"],
                LATENCY_BUCKETS,
            )?,
            time_to_first_byte: histogram(
                "codex_pool_time_to_first_byte_seconds",
                "Time until the client's response headers were sent.",
                &["route"],
                LATENCY_BUCKETS,
            )?,
            overhead: histogram(
                "codex_pool_overhead_seconds",
                "Time spent in the gateway itself, excluding waiting on upstream.",
                &["route"],
                OVERHEAD_BUCKETS,
            )?,
            inflight,
            upstream_attempts: counter(
                "codex_pool_upstream_attempts_total",
                "Upstream attempts by account and outcome.",
                &["account", "outcome"],
            )?,
            upstream_duration: histogram(
                "codex_pool_upstream_duration_seconds",
                "Upstream time to first output (streams) or completion.",
                &["account"],
                LATENCY_BUCKETS,
            )?,
            failovers: counter(
                "codex_pool_failovers_total",
                "Requests moved off an account, by the account and why.",
                &["from_account", "reason"],
            )?,
            tokens: counter(
                "codex_pool_tokens_total",
                "Tokens reported by upstream usage.",
                &["account", "api_key", "model", "kind"],
            )?,
            account_state,
            quota_used: gauge(
                "codex_pool_account_quota_used_percent",
                "Subscription window used, percent, as upstream last reported.",
                &["account", "window"],
            )?,
            quota_reset: gauge(
                "codex_pool_account_quota_reset_timestamp_seconds",
                "When the subscription window resets (unix seconds).",
                &["account", "window"],
            )?,
            cooldown_until: gauge(
                "codex_pool_account_cooldown_until_timestamp_seconds",
                "When the account's cooldown ends (unix seconds); 0 when not cooling.",
                &["account"],
            )?,
            token_expiry: gauge(
                "codex_pool_account_token_expiry_timestamp_seconds",
                "When the account's access token expires (unix seconds).",
                &["account"],
            )?,
            unsaved_login,
            backup_failed,
            login_unreadable,
            refreshes: counter(
                "codex_pool_token_refreshes_total",
                "Token refreshes by account and outcome.",
                &["account", "outcome"],
            )?,
            client_rate_limited: counter(
                "codex_pool_client_rate_limited_total",
                "Client requests refused by per-key limits.",
                &["api_key"],
            )?,
            config_reloads: counter(
                "codex_pool_config_reloads_total",
                "Config reloads by outcome.",
                &["outcome"],
            )?,
            affinity: counter(
                "codex_pool_affinity_total",
                "Served requests by how their account was chosen: new, kept, moved (off: affinity disabled).",
                &["outcome"],
            )?,
            blobs_stripped: counter(
                "codex_pool_affinity_blobs_stripped_total",
                "Encrypted blobs of another account removed from requests before they reached this one.",
                &["account"],
            )?,
            models_refreshes: counter(
                "codex_pool_models_refreshes_total",
                "Refreshes of the models list from upstream, by outcome (ok, error).",
                &["outcome"],
            )?,
            registry,
            scrape: std::sync::Mutex::new(()),
        })
    }

    /// A client request was admitted to the in-flight count.
    pub fn request_started(&self) {
        self.inflight.inc();
    }

    /// A client request left the in-flight count.
    pub fn request_left(&self) {
        self.inflight.dec();
    }

    /// A client request ended with `status`; `code` is `ok`, an error code's
    /// label or a failure kind.
    pub fn request_ended(&self, route: Route, status: u16, code: &'static str, took: Duration) {
        self.requests
            .with_label_values(&[route.as_str(), status_class(status), code])
            .inc();
        self.request_duration
            .with_label_values(&[route.as_str()])
            .observe(took.as_secs_f64());
    }

    /// The response headers went out after `ttfb`, `overhead` of it the gateway's own.
    pub fn first_byte(&self, route: Route, ttfb: Duration, overhead: Duration) {
        self.time_to_first_byte
            .with_label_values(&[route.as_str()])
            .observe(ttfb.as_secs_f64());
        self.overhead
            .with_label_values(&[route.as_str()])
            .observe(overhead.as_secs_f64());
    }

    /// One upstream attempt on `account` ended with `outcome` (`ok` or a failure kind).
    pub fn attempt(&self, account: &str, outcome: &str, took: Duration) {
        self.upstream_duration
            .with_label_values(&[account])
            .observe(took.as_secs_f64());
        self.upstream_attempts
            .with_label_values(&[account, outcome])
            .inc();
    }

    /// A request moved off `account` because of `reason`.
    pub fn failover(&self, account: &str, reason: &str) {
        self.failovers.with_label_values(&[account, reason]).inc();
    }

    /// Tokens upstream reported for one answer, split by kind.
    pub fn tokens(&self, account: &str, key: &str, model: &str, u: &Usage) {
        let input = u.input_tokens.saturating_sub(u.cached());
        let output = u.output_tokens.saturating_sub(u.reasoning());
        for (kind, n) in [
            ("input", input),
            ("cached_input", u.cached()),
            ("output", output),
            ("reasoning", u.reasoning()),
        ] {
            self.tokens
                .with_label_values(&[account, key, model, kind])
                .inc_by(n);
        }
    }

    /// A token refresh of `account` that called the issuer ended with `outcome`.
    pub fn refresh(&self, account: &str, outcome: &str) {
        self.refreshes.with_label_values(&[account, outcome]).inc();
    }

    /// A per-key limit refused a request of `key`.
    pub fn client_rate_limited(&self, key: &str) {
        self.client_rate_limited.with_label_values(&[key]).inc();
    }

    /// A served request's affinity outcome (`new`, `kept`, `moved`, `off`).
    pub fn affinity(&self, outcome: &str) {
        self.affinity.with_label_values(&[outcome]).inc();
    }

    /// `n` encrypted blobs were removed from a request for `account`.
    pub fn blobs_stripped(&self, account: &str, n: u64) {
        self.blobs_stripped.with_label_values(&[account]).inc_by(n);
    }

    /// A write of usage rollups or access-log lines to `sink` failed.
    pub fn usage_write_failed(&self, sink: &'static str) {
        self.usage_write_failures.with_label_values(&[sink]).inc();
    }

    /// Whether the shared store answers now.
    pub fn store_up(&self, up: bool) {
        self.store_up
            .with_label_values(&["redis"])
            .set(i64::from(up));
    }

    /// A refresh of the models list from upstream succeeded (`true`) or not.
    pub fn models_refresh(&self, ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        self.models_refreshes.with_label_values(&[outcome]).inc();
    }

    /// A config reload was applied (`true`) or refused as invalid.
    pub fn reload(&self, applied: bool) {
        let outcome = if applied { "ok" } else { "invalid" };
        self.config_reloads.with_label_values(&[outcome]).inc();
    }

    /// The exposition, with account gauges refreshed from live state.
    pub fn scrape(&self, accounts: &[Arc<Account>]) -> Vec<u8> {
        let _one_at_a_time = self.scrape.lock().unwrap_or_else(|p| p.into_inner());
        self.observe_accounts(accounts);
        self.render()
    }

    /// The text exposition format.
    fn render(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 * 1024);
        let families = self.registry.gather();
        if let Err(e) = TextEncoder::new().encode(&families, &mut out) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        out
    }
}

/// `2xx`, `4xx`, …
fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}
