//! Turning the raw file into a `Config`: every section and list element is
//! deserialized on its own and checked, so one run reports every problem
//! with its key.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::value::StrDeserializer;
use serde::de::{DeserializeOwned, IntoDeserializer};
use sha2::{Digest, Sha256};

use super::raw::{
    RawAccount, RawAdmin, RawApiKey, RawLog, RawMetrics, RawPool, RawServer, RawUpstream,
};
use super::{
    defaults, home_dir, valid_name, AccountConfig, ApiKeyConfig, Config, LogConfig, LogFormat,
    PoolConfig, Problem, ServerConfig, UpstreamConfig, DEFAULT_BASE_URL, DEFAULT_ISSUER,
    DEFAULT_LISTEN, MAX_CONCURRENCY, NAME_RULE,
};

/// Collects problems while turning raw sections into a `Config`.
#[derive(Default)]
pub(super) struct Validator {
    pub(super) problems: Vec<Problem>,
}

impl Validator {
    pub(super) fn problem(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            key: key.into(),
            message: message.into(),
        });
    }

    /// Deserializes one section, reporting a type error or unknown key under `key`.
    fn section<T: DeserializeOwned + Default>(&mut self, table: &mut toml::Table, key: &str) -> T {
        match table.remove(key) {
            None => T::default(),
            Some(value) => self.value(value, key).unwrap_or_default(),
        }
    }

    fn value<T: DeserializeOwned>(&mut self, value: toml::Value, key: &str) -> Option<T> {
        match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(v) => Some(v),
            Err(e) => {
                let path = e.path().to_string();
                let full = if path == "." || path.is_empty() {
                    key.to_string()
                } else {
                    format!("{key}.{path}")
                };
                self.problem(full, e.into_inner().to_string());
                None
            }
        }
    }

    fn list<T: DeserializeOwned>(&mut self, table: &mut toml::Table, key: &str) -> Vec<T> {
        match table.remove(key) {
            None => Vec::new(),
            Some(toml::Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .filter_map(|(i, item)| self.value(item, &format!("{key}[{i}]")))
                .collect(),
            Some(_) => {
                self.problem(key, format!("expected an array of tables ([[{key}]])"));
                Vec::new()
            }
        }
    }

    fn duration(&mut self, key: &str, value: Option<String>, default: Duration) -> Duration {
        let Some(text) = value else { return default };
        match humantime::parse_duration(&text) {
            Ok(d) => d,
            Err(e) => {
                self.problem(
                    key,
                    format!("{text:?} is not a duration like \"30s\" or \"5m\": {e}"),
                );
                default
            }
        }
    }

    fn addr(&mut self, key: &str, text: &str) -> Option<SocketAddr> {
        match text.parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.problem(
                    key,
                    format!("{text:?} is not an address like \"127.0.0.1:8787\""),
                );
                None
            }
        }
    }

    /// One of a serde enum's names (`strategy`), from the text the raw file
    /// holds: a wrong name is reported under `key` with the valid ones, and the
    /// rest of its section is still read and checked.
    fn choice<T: DeserializeOwned>(&mut self, key: &str, text: &str) -> Option<T> {
        let names: StrDeserializer<'_, serde::de::value::Error> = text.into_deserializer();
        T::deserialize(names)
            .map_err(|e| self.problem(key, e.to_string()))
            .ok()
    }

    fn url(&mut self, key: &str, text: String, default: &str) -> String {
        match url::Url::parse(&text) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                text.trim_end_matches('/').to_string()
            }
            _ => {
                self.problem(key, format!("{text:?} is not an http(s) URL"));
                default.to_string()
            }
        }
    }

    pub(super) fn config(
        &mut self,
        mut table: toml::Table,
        base: &Path,
        path: Option<PathBuf>,
    ) -> Option<Config> {
        let d = defaults();
        let server: RawServer = self.section(&mut table, "server");
        let upstream: RawUpstream = self.section(&mut table, "upstream");
        let pool: RawPool = self.section(&mut table, "pool");
        let admin: RawAdmin = self.section(&mut table, "admin");
        let metrics: RawMetrics = self.section(&mut table, "metrics");
        let log: RawLog = self.section(&mut table, "log");
        let accounts: Vec<RawAccount> = self.list(&mut table, "accounts");
        let api_keys: Vec<RawApiKey> = self.list(&mut table, "api_keys");
        for key in table.keys() {
            self.problem(key.as_str(), "unknown key");
        }

        let listen_text = server.listen.unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen = self
            .addr("server.listen", &listen_text)
            .unwrap_or(d.server.listen);
        let server = ServerConfig {
            listen,
            max_body_bytes: self.positive(
                "server.max_body_bytes",
                server.max_body_bytes,
                d.server.max_body_bytes,
            ),
            shutdown_grace: self.duration(
                "server.shutdown_grace",
                server.shutdown_grace,
                d.server.shutdown_grace,
            ),
            header_read_timeout: self.duration(
                "server.header_read_timeout",
                server.header_read_timeout,
                d.server.header_read_timeout,
            ),
            max_connections: self.positive(
                "server.max_connections",
                server.max_connections,
                d.server.max_connections,
            ),
            max_inflight: self.positive(
                "server.max_inflight",
                server.max_inflight,
                d.server.max_inflight,
            ),
        };
        for (key, value) in [
            ("server.max_connections", server.max_connections),
            ("server.max_inflight", server.max_inflight),
        ] {
            if value > MAX_CONCURRENCY {
                self.problem(key, format!("{value} is more than {MAX_CONCURRENCY}"));
            }
        }

        let idle_timeout = self.duration(
            "upstream.idle_timeout",
            upstream.idle_timeout,
            d.upstream.idle_timeout,
        );
        let upstream = UpstreamConfig {
            base_url: match upstream.base_url {
                Some(u) => self.url("upstream.base_url", u, DEFAULT_BASE_URL),
                None => d.upstream.base_url,
            },
            issuer: match upstream.issuer {
                Some(u) => self.url("upstream.issuer", u, DEFAULT_ISSUER),
                None => d.upstream.issuer,
            },
            connect_timeout: self.duration(
                "upstream.connect_timeout",
                upstream.connect_timeout,
                d.upstream.connect_timeout,
            ),
            idle_timeout,
            first_byte_timeout: self.duration(
                "upstream.first_byte_timeout",
                upstream.first_byte_timeout,
                idle_timeout,
            ),
            client_version: upstream.client_version.unwrap_or(d.upstream.client_version),
            models_refresh: self.duration(
                "upstream.models_refresh",
                upstream.models_refresh,
                d.upstream.models_refresh,
            ),
        };

        let strategy = pool
            .strategy
            .and_then(|s| self.choice("pool.strategy", &s))
            .unwrap_or(d.pool.strategy);
        let usage_probe_interval = pool
            .usage_probe_interval
            .map(|t| self.duration("pool.usage_probe_interval", Some(t), Duration::ZERO))
            .filter(|d| !d.is_zero());
        let pool = PoolConfig {
            strategy,
            max_attempts: pool
                .max_attempts
                .map(|n| self.positive("pool.max_attempts", Some(n), 1)),
            backoff_base: self.duration(
                "pool.backoff_base",
                pool.backoff_base,
                d.pool.backoff_base,
            ),
            backoff_max: self.duration("pool.backoff_max", pool.backoff_max, d.pool.backoff_max),
            usage_probe_interval,
            refresh_before_expiry: self.duration(
                "pool.refresh_before_expiry",
                pool.refresh_before_expiry,
                d.pool.refresh_before_expiry,
            ),
            activity_size: self.positive(
                "pool.activity_size",
                pool.activity_size,
                d.pool.activity_size,
            ),
        };

        let accounts = self.accounts(accounts, base);
        let api_keys = self.api_keys(api_keys, &accounts);

        if !listen.ip().is_loopback() && api_keys.is_empty() {
            self.problem(
                "server.listen",
                format!(
                    "{listen} is not a loopback address, and without [[api_keys]] anyone who can reach it could spend your subscriptions; add a client key (run `codex-pool keys new NAME` and paste its [[api_keys]] stanza) or listen on 127.0.0.1"
                ),
            );
        }

        let admin_token = admin.token;
        if admin_token.as_ref().is_some_and(|t| t.expose().is_empty()) {
            self.problem(
                "admin.token",
                "must not be empty; remove [admin] to turn the admin API off",
            );
        }
        let metrics_listen = metrics.listen.and_then(|t| self.addr("metrics.listen", &t));
        let log = LogConfig {
            format: match log.format.as_deref() {
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
            level: log.level.unwrap_or(d.log.level),
        };

        Some(Config {
            path,
            server,
            upstream,
            pool,
            accounts,
            api_keys,
            admin_token,
            metrics_listen,
            log,
        })
    }

    fn positive<T: TryFrom<u64> + Copy>(&mut self, key: &str, value: Option<u64>, default: T) -> T {
        match value {
            None => default,
            Some(0) => {
                self.problem(key, "must be greater than 0");
                default
            }
            Some(n) => T::try_from(n).unwrap_or_else(|_| {
                self.problem(key, format!("{n} is too large"));
                default
            }),
        }
    }

    fn accounts(&mut self, raw: Vec<RawAccount>, base: &Path) -> Vec<AccountConfig> {
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

    fn api_keys(&mut self, raw: Vec<RawApiKey>, accounts: &[AccountConfig]) -> Vec<ApiKeyConfig> {
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
            let hash = match (&k.key, &k.key_sha256) {
                (Some(_), Some(_)) => {
                    self.problem(key.as_str(), "set either key or key_sha256, not both");
                    None
                }
                (None, None) => {
                    self.problem(key.as_str(), "needs key or key_sha256");
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
            };
            if let Some(h) = hash {
                if !hashes.insert(h) {
                    self.problem(key.as_str(), "the same key is configured twice");
                }
            }
            let strategy = k
                .strategy
                .as_deref()
                .and_then(|s| self.choice(&format!("{key}.strategy"), s));
            if let Some(list) = &k.accounts {
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
            out.push(ApiKeyConfig {
                name: k.name,
                key_sha256: hash.unwrap_or_default(),
                strategy,
                accounts: k.accounts,
                requests_per_minute: rpm,
                tokens_per_hour: k.tokens_per_hour,
                tokens_per_day: k.tokens_per_day,
                models: k.models,
            });
        }
        out
    }
}

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
