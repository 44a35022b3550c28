//! Operating the gateway: its metrics, the dashboards and alerts over them,
//! config reloads, the process's life (signals, logs, listeners), memory
//! bounds, the usage rollups and access log (`usage`), and the shared
//! store's cost per request (an ignored benchmark).

mod dashboards;
mod edge_hardening;
mod lifecycle;
mod memory;
mod metrics_accounts;
mod metrics_requests;
mod reload;
mod store_latency;
mod usage;
