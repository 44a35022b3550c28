//! The config file as written: serde structs with `deny_unknown_fields`.
//!
//! Nothing here is checked beyond types; `config::validate` turns a `RawConfig`
//! into a `Config` and reports every problem with its key.

use serde::Deserialize;

use crate::secret::Secret;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    pub listen: Option<String>,
    pub max_body_bytes: Option<u64>,
    pub shutdown_grace: Option<String>,
    pub header_read_timeout: Option<String>,
    pub max_connections: Option<u64>,
    pub max_inflight: Option<u64>,
    pub allowed_origins: Option<Vec<String>>,
    pub max_inflight_body_bytes: Option<u64>,
    pub websocket_idle_timeout: Option<String>,
    pub websocket_max_message_bytes: Option<u64>,
    pub worker_threads: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUpstream {
    pub base_url: Option<String>,
    pub issuer: Option<String>,
    pub connect_timeout: Option<String>,
    pub idle_timeout: Option<String>,
    pub first_byte_timeout: Option<String>,
    pub client_version: Option<String>,
    pub models_refresh: Option<String>,
    pub websocket: Option<String>,
    pub bridge_http: Option<bool>,
    pub bridge_sockets_per_account: Option<u64>,
    pub bridge_max_sockets: Option<u64>,
    pub bridge_idle_timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPool {
    pub strategy: Option<String>,
    pub max_attempts: Option<u64>,
    pub backoff_base: Option<String>,
    pub backoff_max: Option<String>,
    pub usage_probe_interval: Option<String>,
    pub refresh_before_expiry: Option<String>,
    pub activity_size: Option<u64>,
    pub retry_budget: Option<u64>,
    pub outlier_failures: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAccount {
    pub name: String,
    pub auth_file: String,
    pub priority: Option<i64>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApiKey {
    pub name: String,
    pub key: Option<Secret<String>>,
    pub key_sha256: Option<String>,
    pub strategy: Option<String>,
    pub accounts: Option<Vec<String>>,
    pub requests_per_minute: Option<u64>,
    pub tokens_per_hour: Option<u64>,
    pub tokens_per_day: Option<u64>,
    pub models: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdmin {
    pub token: Option<Secret<String>>,
    pub token_sha256: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    pub listen: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLog {
    pub format: Option<String>,
    pub level: Option<String>,
    pub access: Option<String>,
    pub access_max_bytes: Option<u64>,
    pub access_keep: Option<u64>,
}

/// `[usage]`: the hourly usage rollups kept on disk.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUsage {
    pub enabled: Option<bool>,
    pub path: Option<String>,
    pub retention: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAffinity {
    pub enabled: Option<bool>,
    pub ttl: Option<String>,
    pub max_conversations: Option<u64>,
}

/// `[store]`: the optional shared state on Redis.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    pub redis_url: Option<Secret<String>>,
    pub key_prefix: Option<String>,
    pub encryption_key_file: Option<String>,
}

/// `[models]`: aliases and the built-in Claude family defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawModels {
    pub aliases: Option<std::collections::BTreeMap<String, String>>,
    pub builtin_aliases: Option<bool>,
}
