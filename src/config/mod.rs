//! Configuration: the TOML file → `RawConfig` (types only) → a validated `Config`.
//!
//! Every problem is reported with its key, all at once, so `check-config` can list
//! them in one run. Relative paths are relative to the config file's folder.
//! Live reloading (the `ArcSwap` snapshot) lives in `crate::live`, not here.

mod raw;

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::pool::Strategy;
use crate::secret::Secret;
use raw::{RawAccount, RawAdmin, RawApiKey, RawLog, RawMetrics, RawPool, RawServer, RawUpstream};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";
pub const DEFAULT_BASE_URL: &str = "https://chatgpt.com/backend-api/codex";
pub const DEFAULT_ISSUER: &str = "https://auth.openai.com";
/// A real Codex CLI release: the backend filters models by `minimal_client_version`.
pub const DEFAULT_CLIENT_VERSION: &str = "0.169.0";

#[derive(Debug, Clone)]
pub struct Config {
    /// The file this came from; `None` for the built-in solo configuration.
    pub path: Option<PathBuf>,
    pub server: ServerConfig,
    pub upstream: UpstreamConfig,
    pub pool: PoolConfig,
    pub accounts: Vec<AccountConfig>,
    pub api_keys: Vec<ApiKeyConfig>,
    pub admin_token: Option<Secret<String>>,
    pub metrics_listen: Option<SocketAddr>,
    pub log: LogConfig,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub max_body_bytes: usize,
    pub shutdown_grace: Duration,
    /// Also bounds an idle keep-alive connection: hyper starts this timer
    /// whenever it waits for the next request's headers.
    pub header_read_timeout: Duration,
    pub max_connections: usize,
    pub max_inflight: usize,
}

#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// Without a trailing slash.
    pub base_url: String,
    pub issuer: String,
    pub connect_timeout: Duration,
    pub idle_timeout: Duration,
    pub first_byte_timeout: Duration,
    pub client_version: String,
    pub models_refresh: Duration,
}

#[derive(Debug, Clone)]
pub struct PoolConfig {
    pub strategy: Strategy,
    /// `None`: every account once.
    pub max_attempts: Option<usize>,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub usage_probe_interval: Option<Duration>,
    pub refresh_before_expiry: Duration,
    pub activity_size: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AccountConfig {
    pub name: String,
    pub auth_file: PathBuf,
    pub priority: i64,
    pub enabled: bool,
}

#[derive(Debug, Clone)]
pub struct ApiKeyConfig {
    pub name: String,
    /// SHA-256 of the key; the key itself is not kept.
    pub key_sha256: [u8; 32],
    pub strategy: Option<Strategy>,
    pub accounts: Option<Vec<String>>,
    pub requests_per_minute: Option<u32>,
    pub tokens_per_hour: Option<u64>,
    pub tokens_per_day: Option<u64>,
    pub models: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
}

/// One thing wrong with a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub file: PathBuf,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if p.key.is_empty() {
                write!(f, "{file}: {}", p.message)?;
            } else {
                write!(f, "{file}: {}: {}", p.key, p.message)?;
            }
        }
        Ok(())
    }
}

/// The default config file: `$XDG_CONFIG_HOME/codex-pool/config.toml`, else `~/.config/...`.
pub fn default_path() -> Option<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(x).join("codex-pool/config.toml"));
    }
    home_dir().map(|h| h.join(".config/codex-pool/config.toml"))
}

/// `$CODEX_HOME`, else `~/.codex`.
pub fn codex_home() -> Option<PathBuf> {
    if let Some(x) = std::env::var_os("CODEX_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(x));
    }
    home_dir().map(|h| h.join(".codex"))
}

fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            problems: vec![Problem {
                key: String::new(),
                message: format!("cannot read the file: {e}"),
            }],
        })?;
        Self::parse(&text, path)
    }

    /// Validates config text as if it were the file at `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut v = Validator::default();
        let cfg = match text.parse::<toml::Table>() {
            Ok(table) => v.config(table, &base, Some(path.to_path_buf())),
            Err(e) => {
                v.problem("", format!("not valid TOML: {}", e.message()));
                None
            }
        };
        match cfg {
            Some(cfg) if v.problems.is_empty() => Ok(cfg),
            _ => Err(ConfigError {
                file: path.to_path_buf(),
                problems: v.problems,
            }),
        }
    }

    /// The configuration a solo user gets with no file: one account from
    /// `$CODEX_HOME/auth.json`, loopback, `primary_first`.
    pub fn solo(codex_home: &Path) -> Config {
        let mut cfg = defaults();
        cfg.accounts.push(AccountConfig {
            name: "default".into(),
            auth_file: codex_home.join("auth.json"),
            priority: 0,
            enabled: true,
        });
        cfg
    }

    pub fn account(&self, name: &str) -> Option<&AccountConfig> {
        self.accounts.iter().find(|a| a.name == name)
    }
}

/// The most connections or in-flight requests one process may be told to hold.
const MAX_CONCURRENCY: usize = 1_000_000;

/// Every default, with no accounts and no keys.
fn defaults() -> Config {
    Config {
        path: None,
        server: ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8787)),
            max_body_bytes: 32 << 20,
            shutdown_grace: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(30),
            max_connections: 4096,
            max_inflight: 1024,
        },
        upstream: UpstreamConfig {
            base_url: DEFAULT_BASE_URL.into(),
            issuer: DEFAULT_ISSUER.into(),
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            first_byte_timeout: Duration::from_secs(300),
            client_version: DEFAULT_CLIENT_VERSION.into(),
            models_refresh: Duration::from_secs(600),
        },
        pool: PoolConfig {
            strategy: Strategy::PrimaryFirst,
            max_attempts: None,
            backoff_base: Duration::from_secs(5),
            backoff_max: Duration::from_secs(300),
            usage_probe_interval: None,
            refresh_before_expiry: Duration::from_secs(300),
            activity_size: 200,
        },
        accounts: Vec::new(),
        api_keys: Vec::new(),
        admin_token: None,
        metrics_listen: None,
        log: LogConfig {
            format: LogFormat::Text,
            level: "info".into(),
        },
    }
}

/// Collects problems while turning raw sections into a `Config`.
#[derive(Default)]
struct Validator {
    problems: Vec<Problem>,
}

impl Validator {
    fn problem(&mut self, key: impl Into<String>, message: impl Into<String>) {
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

    fn strategy(&mut self, key: &str, text: &str) -> Option<Strategy> {
        let parsed = Strategy::parse(text);
        if parsed.is_none() {
            self.problem(
                key,
                format!("unknown strategy {text:?}; expected \"primary_first\", \"round_robin\" or \"priority_order\""),
            );
        }
        parsed
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

    fn config(
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

        let strategy = match pool.strategy {
            Some(s) => self
                .strategy("pool.strategy", &s)
                .unwrap_or(d.pool.strategy),
            None => d.pool.strategy,
        };
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
                .and_then(|s| self.strategy(&format!("{key}.strategy"), s));
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

/// Account and key names: 1-128 characters, no '/' or '\\', no control
/// characters, not "." or ".." (names appear in file names, URLs and labels).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= 128
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\')
}

/// What `valid_name` asks, for error messages.
pub const NAME_RULE: &str = "must be 1-128 characters without '/', '\\' or control characters";

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

#[cfg(test)]
mod tests;
