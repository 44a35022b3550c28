//! Configuration: the TOML file → `RawConfig` (types only) → a validated `Config`.
//!
//! Every problem is reported with its key, all at once, so `check-config` can list
//! them in one run. Relative paths are relative to the config file's folder.
//! The checks themselves live in `validate`; live reloading (the `ArcSwap`
//! snapshot) in `crate::app` and `crate::reload`, not here.

pub mod edit;
mod paths;
mod raw;
mod transport;
mod validate;

use paths::home_dir;
pub use paths::{codex_home, default_path, folder_of};
pub use transport::{Bridge, UpstreamWebSocket};
pub(crate) use validate::loopback_host;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::secret::Secret;
use validate::Validator;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";
pub const DEFAULT_BASE_URL: &str = "https://chatgpt.com/backend-api/codex";
pub const DEFAULT_ISSUER: &str = "https://auth.openai.com";
/// `auto`: the Codex version sent follows the backend (`upstream::identity`);
/// the backend refuses a model to a version older than its `minimal_client_version`.
pub const DEFAULT_CLIENT_VERSION: &str = AUTO_CLIENT_VERSION;
/// The `client_version` that lets the version follow the backend.
pub const AUTO_CLIENT_VERSION: &str = "auto";

#[derive(Debug, Clone)]
pub struct Config {
    /// The file this came from; `None` for the built-in solo configuration.
    pub path: Option<PathBuf>,
    pub server: ServerConfig,
    pub upstream: UpstreamConfig,
    pub pool: PoolConfig,
    pub accounts: Vec<AccountConfig>,
    pub api_keys: Vec<ApiKeyConfig>,
    /// `[admin]`: `None` turns the admin API off.
    pub admin_token: Option<AdminToken>,
    pub metrics_listen: Option<SocketAddr>,
    pub log: LogConfig,
    pub affinity: AffinityConfig,
    /// What is allowed but worth a look (a config that holds secrets and that
    /// others can read, a chatty usage probe): `check-config` prints them,
    /// `serve` and a reload log them.
    pub warnings: Vec<Problem>,
    pub models: ModelsConfig,
    /// `[store]`: `None` keeps all state in this process (the default).
    pub store: Option<StoreConfig>,
    pub usage: UsageConfig,
}

/// `[store]`: Redis, shared by the replicas of one gateway (`crate::store`).
#[derive(Debug, Clone, PartialEq)]
pub struct StoreConfig {
    /// May hold a password: never printed.
    pub redis_url: Secret<String>,
    /// Every Redis key starts with it (several gateways on one Redis).
    pub key_prefix: String,
    pub key_file: PathBuf,
    pub key: crate::seal::Key,
}

/// `[store] key_prefix` when unset.
pub const DEFAULT_KEY_PREFIX: &str = "codex-pool:";

/// `[affinity]`: keeping each conversation on one account.
#[derive(Debug, Clone, PartialEq)]
pub struct AffinityConfig {
    pub enabled: bool,
    /// A conversation unused this long is forgotten.
    pub ttl: Duration,
    /// Conversations remembered at most (least recently used go first).
    pub max_conversations: usize,
}

/// The admin API's token as the config gives it: its SHA-256, which requests
/// are checked against, and the token itself when the file holds it in clear
/// (`[admin] token`), which `codex-pool accounts` needs to call the API.
#[derive(Clone)]
pub struct AdminToken {
    pub sha256: [u8; 32],
    pub clear: Option<Secret<String>>,
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminToken")
            .field("clear", &self.clear.is_some())
            .finish_non_exhaustive()
    }
}

/// `[models]`: which backend model a requested name means
/// (`translate::resolve_model`).
#[derive(Debug, Clone)]
pub struct ModelsConfig {
    /// Alias (an exact name, or a glob with `*`) → backend model (which may
    /// carry an effort suffix), in the file's order.
    pub aliases: Vec<(String, String)>,
    /// Whether the built-in Claude family aliases apply after these.
    pub builtin_aliases: bool,
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
    /// Origins besides loopback ones that browsers may call a loopback
    /// listener from (`https://chat.example.com`, or `*`).
    pub allowed_origins: Vec<String>,
    /// Request-body bytes all requests in flight may hold at once; past it a
    /// new request gets a fast 503.
    pub max_inflight_body_bytes: usize,
    /// A client WebSocket with no frame for this long is closed (`docs/websocket.md`).
    pub websocket_idle_timeout: Duration,
    /// The largest client WebSocket message; advertised in
    /// `x-codex-websocket-max-message-bytes` and enforced.
    pub websocket_max_message_bytes: usize,
    /// The runtime's worker threads; `None` is one per core. Read at start.
    pub worker_threads: Option<usize>,
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
    /// Whether WebSocket clients are served over an upstream WebSocket.
    pub websocket: UpstreamWebSocket,
    /// HTTP conversations carried on kept upstream sockets (`proxy::bridge`).
    pub bridge: Bridge,
}

/// How a request orders the accounts it may use (`pool::order` does the ordering).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The first usable account in file order; the others only when it fails or cools.
    PrimaryFirst,
    /// Rotate across all usable accounts with a lock-free counter.
    RoundRobin,
    /// Ascending `priority`, ties in file order.
    PriorityOrder,
}

impl Strategy {
    /// The name the config file uses, also shown in logs and the activity view.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::PrimaryFirst => "primary_first",
            Strategy::RoundRobin => "round_robin",
            Strategy::PriorityOrder => "priority_order",
        }
    }
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
    /// Attempts one request may spend on failures that are not the account's
    /// fault (5xx, timeouts, broken streams): a request that fails that way
    /// everywhere stops there instead of touching every account.
    pub retry_budget: usize,
    /// Such failures in a row, from requests with different bodies, before an
    /// account cools: one poison request cannot cool the pool.
    pub outlier_failures: u32,
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
    /// `[log] access`: one JSON line per request, to a file or stdout.
    pub access: Option<AccessLogConfig>,
}

/// Where the access log goes, and when a file of it is rotated.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessLogConfig {
    /// `None`: standard output.
    pub path: Option<PathBuf>,
    /// A file past this size is rotated (`PATH.1`, `PATH.2`, …).
    pub max_bytes: u64,
    /// Rotated files kept.
    pub keep: u32,
}

/// `[usage]`: hourly rollups of requests and tokens (`crate::usage`).
#[derive(Debug, Clone, PartialEq)]
pub struct UsageConfig {
    /// The SQLite file; `None` keeps no usage on disk (the built-in solo
    /// configuration without a file, or `enabled = false`).
    pub path: Option<PathBuf>,
    /// Rollups older than this are deleted.
    pub retention: Duration,
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

impl Config {
    /// Reads and validates a config file, and logs its warnings (nothing
    /// listens yet when `serve` loads its file, so it logs them again later).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            problems: vec![Problem {
                key: String::new(),
                message: format!("cannot read the file: {e}"),
            }],
        })?;
        let cfg = Self::check(&text, path, file_mode(path))?;
        for w in &cfg.warnings {
            tracing::warn!(file = %path.display(), key = %w.key, "{}", w.message);
        }
        Ok(cfg)
    }

    /// Validates config text as if it were the file at `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        Self::check(text, path, None)
    }

    /// `parse`, knowing the file's permission bits (`None`: not known).
    fn check(text: &str, path: &Path, mode: Option<u32>) -> Result<Config, ConfigError> {
        let mut v = Validator::default();
        v.file_mode = mode;
        let cfg = match text.parse::<toml::Table>() {
            Ok(table) => v.config(table, folder_of(path), Some(path.to_path_buf())),
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
/// The most runtime worker threads `server.worker_threads` may ask for.
const MAX_WORKER_THREADS: usize = 1024;

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
            allowed_origins: Vec::new(),
            max_inflight_body_bytes: 256 << 20,
            websocket_idle_timeout: Duration::from_secs(30 * 60),
            websocket_max_message_bytes: 16 << 20,
            worker_threads: None,
        },
        upstream: UpstreamConfig {
            base_url: DEFAULT_BASE_URL.into(),
            issuer: DEFAULT_ISSUER.into(),
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            first_byte_timeout: Duration::from_secs(300),
            client_version: DEFAULT_CLIENT_VERSION.into(),
            models_refresh: Duration::from_secs(600),
            websocket: UpstreamWebSocket::Auto,
            bridge: Bridge::default(),
        },
        pool: PoolConfig {
            strategy: Strategy::PrimaryFirst,
            max_attempts: None,
            backoff_base: Duration::from_secs(5),
            backoff_max: Duration::from_secs(300),
            usage_probe_interval: None,
            refresh_before_expiry: Duration::from_secs(300),
            retry_budget: 2,
            outlier_failures: 2,
            activity_size: 200,
        },
        accounts: Vec::new(),
        api_keys: Vec::new(),
        admin_token: None,
        metrics_listen: None,
        affinity: AffinityConfig {
            enabled: true,
            ttl: Duration::from_secs(3600),
            max_conversations: 100_000,
        },
        log: LogConfig {
            format: LogFormat::Text,
            level: "info".into(),
            access: None,
        },
        warnings: Vec::new(),
        models: ModelsConfig {
            aliases: Vec::new(),
            builtin_aliases: true,
        },
        store: None,
        usage: UsageConfig {
            path: None,
            retention: Duration::from_secs(90 * 86_400),
        },
    }
}

/// The permission bits of the file at `path`.
fn file_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).ok().map(|m| m.permissions().mode())
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

#[cfg(test)]
mod tests;
