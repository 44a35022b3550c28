//! HTTP conversations carried on kept upstream sockets (`proxy::bridge`):
//! how each bridged route's turns went upstream, and the sockets kept open.
//! Registered into the one registry `Metrics` owns.

use prometheus::{IntCounterVec, IntGauge, Opts, Registry};

use crate::route::Route;

/// How a turn went upstream (`kind` label).
const KINDS: [&str; 4] = ["continued", "full", "resent", "http"];

pub struct Bridge {
    turns: IntCounterVec,
    /// Kept upstream sockets open now (`upstream::ws::kept`).
    pub open: IntGauge,
}

impl Bridge {
    pub(super) fn new(registry: &Registry) -> Result<Bridge, prometheus::Error> {
        let turns = IntCounterVec::new(
            Opts::new(
                "codex_pool_bridge_turns_total",
                "HTTP requests of conversations with upstream.bridge_http on, by route and how they went upstream: continued (previous_response_id and the new items on the conversation's socket), full (the whole request on a socket), resent (a socket turn that failed before output, sent again over HTTP), http (no socket: a limit, a busy conversation, upstream without WebSocket).",
            ),
            &["route", "kind"],
        )?;
        registry.register(Box::new(turns.clone()))?;
        let open = IntGauge::new(
            "codex_pool_bridge_sockets_open",
            "Upstream sockets kept for HTTP conversations (upstream.bridge_http).",
        )?;
        registry.register(Box::new(open.clone()))?;
        for route in [Route::Chat, Route::Responses] {
            for kind in KINDS {
                turns.with_label_values(&[route.as_str(), kind]);
            }
        }
        Ok(Bridge { turns, open })
    }

    /// One turn of `route` that went upstream as `kind` (one of `KINDS`).
    pub fn turn(&self, route: Route, kind: &'static str) {
        self.turns.with_label_values(&[route.as_str(), kind]).inc();
    }
}
