//! The integration tests: one crate, so the library is linked once, with a
//! module per subject. Every test runs the real gateway (in process, or the
//! binary) on `127.0.0.1:0` against the mock upstream on `127.0.0.1:0`, and
//! asserts what reached the upstream as well as what the client saw.
//!
//! - `routes/`: each HTTP surface (chat, responses, messages, the Codex CLI's
//!   own backend, models, images) and the edge (input, browsers, limits, ids).
//! - `pool/`: strategies, failover, cooldowns, quota, affinity, what
//!   upstream may send.
//! - `accounts/`: token refresh, login and import, client keys, solo mode.
//! - `ops/`: metrics, dashboards, reload, the process's life, memory.
//! - `replicas/`: behaviours written once and run against one gateway and
//!   against two replicas on Redis, and what only replicas do.
//! - `ws`: the Responses API over WebSocket.
//! - `bridge`: HTTP conversations on kept upstream sockets.
//! - `cli`: the binary's one-shot commands.
//! - `support/`: the gateway builder, the mock, logins, Redis, scrapes.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

#[macro_use]
mod support;

mod accounts;
mod bridge;
mod cli;
mod doctor;
mod ops;
mod pool;
mod replicas;
mod routes;
mod ws;
