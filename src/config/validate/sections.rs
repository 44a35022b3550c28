//! What each section of the config file asks of its values, one method per
//! section (and per list element), in the order the file's problems are
//! reported. The generic checks they use are in `validate.rs`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::Validator;
use crate::config::raw::{
    RawAccount, RawAdmin, RawApiKey, RawLog, RawPool, RawServer, RawUpstream,
};
use crate::config::{
    home_dir, valid_name, AccountConfig, ApiKeyConfig, LogConfig, LogFormat, PoolConfig,
    ServerConfig, UpstreamConfig, DEFAULT_BASE_URL, DEFAULT_ISSUER, DEFAULT_LISTEN,
    MAX_CONCURRENCY, NAME_RULE,
};
use crate::secret::Secret;

impl Validator {
    pub(super) fn server(&mut self, raw: RawServer, d: &ServerConfig) -> ServerConfig {
        let listen_text = raw.listen.unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen = self.addr("server.listen", &listen_text).unwrap_or(d.listen);
        let server = ServerConfig {
            listen,
            max_body_bytes: self.positive(
                "server.max_body_bytes",
                raw.max_body_bytes,
                d.max_body_bytes,
            ),
            shutdown_grace: self.duration(
                "server.shutdown_grace",
                raw.shutdown_grace,
                d.shutdown_grace,
            ),
            header_read_timeout: self.duration(
                "server.header_read_timeout",
                raw.header_read_timeout,
                d.header_read_timeout,
            ),
            max_connections: self.positive(
                "server.max_connections",
                raw.max_connections,
                d.max_connections,
            ),
            max_inflight: self.positive("server.max_inflight", raw.max_inflight, d.max_inflight),
            allowed_origins: self.origins(raw.allowed_origins.unwrap_or_default()),
            max_inflight_body_bytes: self.positive(
                "server.max_inflight_body_bytes",
                raw.max_inflight_body_bytes,
                d.max_inflight_body_bytes,
            ),
        };
        if server.max_inflight_body_bytes < server.max_body_bytes {
            self.problem(
                "server.max_inflight_body_bytes",
                format!(
                    "{} is less than server.max_body_bytes ({}): no request of the largest size could ever be read",
                    server.max_inflight_body_bytes, server.max_body_bytes
                ),
            );
        }
        for (key, value) in [
            ("server.max_connections", server.max_connections),
            ("server.max_inflight", server.max_inflight),
        ] {
            if value > MAX_CONCURRENCY {
                self.problem(key, format!("{value} is more than {MAX_CONCURRENCY}"));
            }
        }
        server
    }

    pub(super) fn upstream(&mut self, raw: RawUpstream, d: &UpstreamConfig) -> UpstreamConfig {
        let idle_timeout = self.duration("upstream.idle_timeout", raw.idle_timeout, d.idle_timeout);
        UpstreamConfig {
            base_url: match raw.base_url {
                Some(u) => self.url("upstream.base_url", u, DEFAULT_BASE_URL),
                None => d.base_url.clone(),
            },
            issuer: match raw.issuer {
                Some(u) => self.url("upstream.issuer", u, DEFAULT_ISSUER),
                None => d.issuer.clone(),
            },
            connect_timeout: self.duration(
                "upstream.connect_timeout",
                raw.connect_timeout,
                d.connect_timeout,
            ),
            idle_timeout,
            first_byte_timeout: self.duration(
                "upstream.first_byte_timeout",
                raw.first_byte_timeout,
                idle_timeout,
            ),
            client_version: raw
                .client_version
                .unwrap_or_else(|| d.client_version.clone()),
            models_refresh: self.duration(
                "upstream.models_refresh",
                raw.models_refresh,
                d.models_refresh,
            ),
        }
    }

    pub(super) fn pool(&mut self, raw: RawPool, d: &PoolConfig) -> PoolConfig {
        let strategy = raw
            .strategy
            .and_then(|s| self.choice("pool.strategy", &s))
            .unwrap_or(d.strategy);
        let usage_probe_interval = raw
            .usage_probe_interval
            .map(|t| self.duration("pool.usage_probe_interval", Some(t), Duration::ZERO))
            .filter(|d| !d.is_zero());
        PoolConfig {
            strategy,
            max_attempts: raw
                .max_attempts
                .map(|n| self.positive("pool.max_attempts", Some(n), 1)),
            backoff_base: self.duration("pool.backoff_base", raw.backoff_base, d.backoff_base),
            backoff_max: self.duration("pool.backoff_max", raw.backoff_max, d.backoff_max),
            usage_probe_interval,
            refresh_before_expiry: self.duration(
                "pool.refresh_before_expiry",
                raw.refresh_before_expiry,
                d.refresh_before_expiry,
            ),
            activity_size: self.positive("pool.activity_size", raw.activity_size, d.activity_size),
            retry_budget: self.positive("pool.retry_budget", raw.retry_budget, d.retry_budget),
            outlier_failures: self.positive(
                "pool.outlier_failures",
                raw.outlier_failures,
                d.outlier_failures,
            ),
        }
    }

    /// `[[accounts]]`: unique valid names; auth files relative to `base`.
    pub(super) fn accounts(&mut self, raw: Vec<RawAccount>, base: &Path) -> Vec<AccountConfig> {
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(raw.len());
        for (i, a) in raw.into_iter().enumerate() {
            let key = format!("accounts[{i}]");
            if !valid_name(&a.name) {
                self.problem(format!("{key}.name"), format!("{:?} {NAME_RULE}", a.name));
            } else if !seen.insert(a.name.clone()) {
                self.problem(
                    format!("{key}.name"),
                    format!("account {:?} is listed twice", a.name),
                );
            }
            if a.auth_file.trim().is_empty() {
                self.problem(format!("{key}.auth_file"), "must not be empty");
            }
            out.push(AccountConfig {
                auth_file: resolve(base, &a.auth_file),
                priority: a.priority.unwrap_or(i as i64 + 1),
                enabled: a.enabled.unwrap_or(true),
                name: a.name,
            });
        }
        out
    }

    /// `[[api_keys]]`: unique valid names and unique keys; each key on its own.
    pub(super) fn api_keys(
        &mut self,
        raw: Vec<RawApiKey>,
        accounts: &[AccountConfig],
    ) -> Vec<ApiKeyConfig> {
        let mut names = HashSet::new();
        let mut hashes = HashSet::new();
        let mut out = Vec::with_capacity(raw.len());
        for (i, k) in raw.into_iter().enumerate() {
            let key = format!("api_keys[{i}]");
            if !valid_name(&k.name) {
                self.problem(format!("{key}.name"), format!("{:?} {NAME_RULE}", k.name));
            } else if !names.insert(k.name.clone()) {
                self.problem(
                    format!("{key}.name"),
                    format!("key name {:?} is listed twice", k.name),
                );
            }
            let hash = self.key_hash(&key, k.key.as_ref(), k.key_sha256.as_deref());
            if let Some(h) = hash {
                if !hashes.insert(h) {
                    self.problem(key.as_str(), "the same key is configured twice");
                }
            }
            out.push(self.api_key(&key, k, hash, accounts));
        }
        out
    }

    /// The SHA-256 a client key is checked against: from `key` or `key_sha256`.
    fn key_hash(
        &mut self,
        key: &str,
        plain: Option<&Secret<String>>,
        hexed: Option<&str>,
    ) -> Option<[u8; 32]> {
        match (plain, hexed) {
            (Some(_), Some(_)) => {
                self.problem(key, "set either key or key_sha256, not both");
                None
            }
            (None, None) => {
                self.problem(key, "needs key or key_sha256");
                None
            }
            (Some(secret), None) if secret.expose().is_empty() => {
                self.problem(format!("{key}.key"), "must not be empty");
                None
            }
            (Some(secret), None) => Some(Sha256::digest(secret.expose().as_bytes()).into()),
            (None, Some(hexed)) => {
                let parsed = hex::decode(hexed.trim())
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok());
                if parsed.is_none() {
                    self.problem(
                        format!("{key}.key_sha256"),
                        "must be 64 hex characters (a SHA-256)",
                    );
                }
                parsed
            }
        }
    }

    /// One client key's routing (strategy, accounts) and limits.
    fn api_key(
        &mut self,
        key: &str,
        k: RawApiKey,
        hash: Option<[u8; 32]>,
        accounts: &[AccountConfig],
    ) -> ApiKeyConfig {
        let strategy = k
            .strategy
            .as_deref()
            .and_then(|s| self.choice(&format!("{key}.strategy"), s));
        if let Some(list) = &k.accounts {
            self.key_scope(key, list, accounts);
        }
        let rpm = k
            .requests_per_minute
            .map(|n| self.positive(&format!("{key}.requests_per_minute"), Some(n), 1u32));
        for (field, v) in [
            ("tokens_per_hour", k.tokens_per_hour),
            ("tokens_per_day", k.tokens_per_day),
        ] {
            if v == Some(0) {
                self.problem(format!("{key}.{field}"), "must be greater than 0");
            }
        }
        if k.models.as_ref().is_some_and(|m| m.is_empty()) {
            self.problem(
                format!("{key}.models"),
                "is empty; remove it to allow every model",
            );
        }
        ApiKeyConfig {
            name: k.name,
            key_sha256: hash.unwrap_or_default(),
            strategy,
            accounts: k.accounts,
            requests_per_minute: rpm,
            tokens_per_hour: k.tokens_per_hour,
            tokens_per_day: k.tokens_per_day,
            models: k.models,
        }
    }

    /// A key's `accounts`: not empty, and every name a configured account.
    fn key_scope(&mut self, key: &str, list: &[String], accounts: &[AccountConfig]) {
        if list.is_empty() {
            self.problem(
                format!("{key}.accounts"),
                "is empty; remove it to allow every account",
            );
        }
        for name in list {
            if !accounts.iter().any(|a| &a.name == name) {
                self.problem(
                    format!("{key}.accounts"),
                    format!("no account named {name:?}"),
                );
            }
        }
    }

    /// A listener others can reach needs client keys.
    pub(super) fn exposure(&mut self, server: &ServerConfig, api_keys: &[ApiKeyConfig]) {
        let listen = server.listen;
        if !listen.ip().is_loopback() && api_keys.is_empty() {
            self.problem(
                "server.listen",
                format!(
                    "{listen} is not a loopback address, and without [[api_keys]] anyone who can reach it could spend your subscriptions; add a client key (run `codex-pool keys new NAME` and paste its [[api_keys]] stanza) or listen on 127.0.0.1"
                ),
            );
        }
    }

    pub(super) fn admin(&mut self, raw: RawAdmin) -> Option<Secret<String>> {
        let token = raw.token;
        if token.as_ref().is_some_and(|t| t.expose().is_empty()) {
            self.problem(
                "admin.token",
                "must not be empty; remove [admin] to turn the admin API off",
            );
        }
        token
    }

    pub(super) fn log(&mut self, raw: RawLog, d: LogConfig) -> LogConfig {
        LogConfig {
            format: match raw.format.as_deref() {
                None | Some("text") => LogFormat::Text,
                Some("json") => LogFormat::Json,
                Some(other) => {
                    self.problem(
                        "log.format",
                        format!("{other:?} is not \"text\" or \"json\""),
                    );
                    LogFormat::Text
                }
            },
            level: raw.level.unwrap_or(d.level),
        }
    }
}

/// An `auth_file` as written: `~/` is the home folder; relative is to `base`.
fn resolve(base: &Path, path: &str) -> PathBuf {
    let expanded = match path.strip_prefix("~/") {
        Some(rest) => home_dir()
            .map(|h| h.join(rest))
            .unwrap_or_else(|| PathBuf::from(path)),
        None => PathBuf::from(path),
    };
    if expanded.is_absolute() {
        expanded
    } else {
        base.join(expanded)
    }
}
