//! The Responses WebSocket's metrics (`server/ws/`): open sockets on each
//! side, turns, failovers inside a socket, the `previous_response_not_found`
//! answers the gateway sends, and sockets served over HTTP upstream.
//! Registered into the one registry `Metrics` owns.

use prometheus::{IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry};

use crate::route::Route;

/// `upstream::Failure::kind` of the failures that move a turn.
const FAILOVER_REASONS: [&str; 8] = [
    "usage_limited",
    "rate_limited",
    "auth_failed",
    "cloudflare_blocked",
    "server_error",
    "timeout",
    "connect_error",
    "stream_failed",
];

pub struct Sockets {
    open: IntGaugeVec,
    turns: IntCounterVec,
    failovers: IntCounterVec,
    not_found: IntCounter,
    http_fallbacks: IntCounterVec,
}

impl Sockets {
    pub(super) fn new(registry: &Registry) -> Result<Sockets, prometheus::Error> {
        let open = IntGaugeVec::new(
            Opts::new(
                "codex_pool_websockets_open",
                "Open Responses WebSockets: side=client (to the gateway) or upstream (from it).",
            ),
            &["side"],
        )?;
        registry.register(Box::new(open.clone()))?;
        for side in ["client", "upstream"] {
            open.with_label_values(&[side]).set(0);
        }
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(c.clone()))?;
            Ok::<_, prometheus::Error>(c)
        };
        let not_found = IntCounter::new(
            "codex_pool_websocket_previous_response_not_found_total",
            "Continuations answered previous_response_not_found because their account could not serve them (the client resends the whole input).",
        )?;
        registry.register(Box::new(not_found.clone()))?;
        let sockets = Sockets {
            open,
            turns: counter(
                "codex_pool_websocket_turns_total",
                "response.create turns on client WebSockets, by route and whether they continued the previous response.",
                &["route", "kind"],
            )?,
            failovers: counter(
                "codex_pool_websocket_failovers_total",
                "Turns on a WebSocket moved to another account before any output, by reason.",
                &["reason"],
            )?,
            not_found,
            http_fallbacks: counter(
                "codex_pool_websocket_http_fallbacks_total",
                "Client WebSockets served over HTTP upstream, by why (refused: upstream refused the upgrade; never: upstream.websocket; proxy: a proxy applies).",
                &["reason"],
            )?,
        };
        sockets.zero();
        Ok(sockets)
    }

    /// Every bounded series at 0, so dashboards and alerts find them before
    /// the first socket.
    fn zero(&self) {
        for route in [Route::ResponsesWs, Route::CodexWs] {
            for kind in ["full", "continuation"] {
                self.turns.with_label_values(&[route.as_str(), kind]);
            }
        }
        for reason in ["refused", "never"] {
            self.http_fallbacks.with_label_values(&[reason]);
        }
        for reason in FAILOVER_REASONS {
            self.failovers.with_label_values(&[reason]);
        }
    }

    /// A socket opened (`+1`) or closed (`-1`) on `side`.
    pub fn open(&self, side: &'static str, delta: i64) {
        self.open.with_label_values(&[side]).add(delta);
    }

    pub fn turn(&self, route: Route, continuation: bool) {
        let kind = if continuation { "continuation" } else { "full" };
        self.turns.with_label_values(&[route.as_str(), kind]).inc();
    }

    pub fn failover(&self, reason: &str) {
        self.failovers.with_label_values(&[reason]).inc();
    }

    pub fn previous_response_not_found(&self) {
        self.not_found.inc();
    }

    pub fn http_fallback(&self, reason: &'static str) {
        self.http_fallbacks.with_label_values(&[reason]).inc();
    }
}
