//! What each section of the config file asks of its values, one method per
//! section (and per list element), in the order the file's problems are
//! reported, and the range each duration key accepts. The generic checks
//! they use are in `validate.rs`; the keys and the admin token in `keys.rs`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Bound, Validator};
use crate::config::raw::{RawAccount, RawLog, RawPool, RawServer, RawUpstream};
use crate::config::{
    home_dir, valid_name, AccountConfig, Bridge, LogConfig, LogFormat, PoolConfig, ServerConfig,
    UpstreamConfig, DEFAULT_BASE_URL, DEFAULT_ISSUER, DEFAULT_LISTEN, MAX_CONCURRENCY,
    MAX_WORKER_THREADS, NAME_RULE,
};

/// Timeouts a request waits on (headers in, connect, first byte, between
/// events): zero fails every request, yet tests make them fire within a few
/// hundred milliseconds, so the floor sits below that.
const TIMEOUT: Bound = Bound {
    min: Duration::from_millis(100),
    max: None,
    why: "a shorter timeout fails requests that are doing fine",
};

/// Each refresh sends an account's token to `/models`; `0s` made a tight loop.
const MODELS_REFRESH: Bound = Bound {
    min: Duration::from_secs(60),
    max: None,
    why: "every refresh sends an account's token to /models",
};

/// Each round sends every account's token to `/wham/usage`. The floor only
/// stops a tight loop; below `USAGE_PROBE_QUIET` is a warning.
const USAGE_PROBE: Bound = Bound {
    min: Duration::from_secs(1),
    max: None,
    why: "every round sends each account's token to /wham/usage",
};
/// A kept socket waits for its conversation's next turn; the backend ends
/// every socket at 60 minutes, so an idle time past that keeps nothing.
const BRIDGE_IDLE: Bound = Bound {
    min: Duration::from_secs(1),
    max: Some(Duration::from_secs(55 * 60)),
    why: "the backend closes every socket after 60 minutes",
};

/// `bridge_http`, `bridge_sockets_per_account`, `bridge_max_sockets`,
/// `bridge_idle_timeout` as written.
type RawBridge = (Option<bool>, Option<u64>, Option<u64>, Option<String>);

const USAGE_PROBE_QUIET: Duration = Duration::from_secs(60);

/// The first cooldown of a failing account: zero sends its token again at once.
const BACKOFF: Bound = Bound {
    min: Duration::from_millis(100),
    max: None,
    why: "a shorter cooldown sends a failing account's token again at once",
};

/// The background refresher looks every 30 s (`background::refresh_loop`),
/// so a margin under a minute can miss a token and leave requests to refresh
/// in line. Access tokens can live as little as an hour, and a margin near
/// that makes every fresh token due at once: a refresh, and a rotated refresh
/// token, every 30 s. Half an hour keeps it at most every half-life.
const REFRESH_BEFORE_EXPIRY: Bound = Bound {
    min: Duration::from_secs(60),
    max: Some(Duration::from_secs(30 * 60)),
    why: "tokens are checked every 30s, and an access token may live only an hour",
};

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
            header_read_timeout: self.bounded(
                "server.header_read_timeout",
                raw.header_read_timeout,
                d.header_read_timeout,
                &TIMEOUT,
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
            websocket_idle_timeout: self.bounded(
                "server.websocket_idle_timeout",
                raw.websocket_idle_timeout,
                d.websocket_idle_timeout,
                &TIMEOUT,
            ),
            websocket_max_message_bytes: self.positive(
                "server.websocket_max_message_bytes",
                raw.websocket_max_message_bytes,
                d.websocket_max_message_bytes,
            ),
            worker_threads: raw
                .worker_threads
                .map(|n| self.positive("server.worker_threads", Some(n), 1)),
        };
        if let Some(n) = server.worker_threads.filter(|&n| n > MAX_WORKER_THREADS) {
            self.problem(
                "server.worker_threads",
                format!("{n} is more than {MAX_WORKER_THREADS}"),
            );
        }
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
        let raw_bridge: RawBridge = (
            raw.bridge_http,
            raw.bridge_sockets_per_account,
            raw.bridge_max_sockets,
            raw.bridge_idle_timeout.clone(),
        );
        let idle_timeout = self.bounded(
            "upstream.idle_timeout",
            raw.idle_timeout,
            d.idle_timeout,
            &TIMEOUT,
        );
        UpstreamConfig {
            base_url: match raw.base_url {
                Some(u) => self.url("upstream.base_url", u, DEFAULT_BASE_URL),
                None => d.base_url.clone(),
            },
            issuer: match raw.issuer {
                Some(u) => self.url("upstream.issuer", u, DEFAULT_ISSUER),
                None => d.issuer.clone(),
            },
            connect_timeout: self.bounded(
                "upstream.connect_timeout",
                raw.connect_timeout,
                d.connect_timeout,
                &TIMEOUT,
            ),
            idle_timeout,
            first_byte_timeout: self.bounded(
                "upstream.first_byte_timeout",
                raw.first_byte_timeout,
                idle_timeout,
                &TIMEOUT,
            ),
            client_version: match raw.client_version {
                Some(v)
                    if v == crate::config::AUTO_CLIENT_VERSION
                        || crate::version::Version::parse(&v).is_some() =>
                {
                    v
                }
                Some(v) => {
                    self.problem(
                        "upstream.client_version",
                        format!("{v:?} is neither \"auto\" nor a Codex version like \"0.171.0\""),
                    );
                    d.client_version.clone()
                }
                None => d.client_version.clone(),
            },
            models_refresh: self.bounded(
                "upstream.models_refresh",
                raw.models_refresh,
                d.models_refresh,
                &MODELS_REFRESH,
            ),
            websocket: raw
                .websocket
                .and_then(|w| self.choice("upstream.websocket", &w))
                .unwrap_or(d.websocket),
            bridge: self.bridge(&raw_bridge, &d.bridge),
        }
    }

    fn bridge(&mut self, raw: &RawBridge, d: &Bridge) -> Bridge {
        let b = Bridge {
            enabled: raw.0.unwrap_or(d.enabled),
            per_account: self.positive("upstream.bridge_sockets_per_account", raw.1, d.per_account),
            max_sockets: self.positive("upstream.bridge_max_sockets", raw.2, d.max_sockets),
            idle_timeout: self.bounded(
                "upstream.bridge_idle_timeout",
                raw.3.clone(),
                d.idle_timeout,
                &BRIDGE_IDLE,
            ),
        };
        if b.per_account > b.max_sockets {
            self.problem(
                "upstream.bridge_sockets_per_account",
                format!(
                    "{} is more than upstream.bridge_max_sockets ({})",
                    b.per_account, b.max_sockets
                ),
            );
        }
        b
    }

    pub(super) fn pool(&mut self, raw: RawPool, d: &PoolConfig) -> PoolConfig {
        let strategy = raw
            .strategy
            .and_then(|s| self.choice("pool.strategy", &s))
            .unwrap_or(d.strategy);
        let backoff_base = self.bounded(
            "pool.backoff_base",
            raw.backoff_base,
            d.backoff_base,
            &BACKOFF,
        );
        let backoff_max = self.duration("pool.backoff_max", raw.backoff_max, d.backoff_max);
        if backoff_max < backoff_base {
            self.problem(
                "pool.backoff_max",
                format!(
                    "{} is less than pool.backoff_base ({})",
                    humantime::format_duration(backoff_max),
                    humantime::format_duration(backoff_base)
                ),
            );
        }
        PoolConfig {
            strategy,
            max_attempts: raw
                .max_attempts
                .map(|n| self.positive("pool.max_attempts", Some(n), 1)),
            backoff_base,
            backoff_max: backoff_max.max(backoff_base),
            usage_probe_interval: self.usage_probe(raw.usage_probe_interval),
            refresh_before_expiry: self.bounded(
                "pool.refresh_before_expiry",
                raw.refresh_before_expiry,
                d.refresh_before_expiry,
                &REFRESH_BEFORE_EXPIRY,
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

    /// `pool.usage_probe_interval`: unset or `0s` is off; a short one is
    /// allowed (a test setup may want it) but warned about.
    fn usage_probe(&mut self, raw: Option<String>) -> Option<Duration> {
        const KEY: &str = "pool.usage_probe_interval";
        let every = self.duration(KEY, raw, Duration::ZERO);
        if every.is_zero() {
            return None;
        }
        let every = self.within(KEY, every, USAGE_PROBE.min, &USAGE_PROBE);
        if every < USAGE_PROBE_QUIET {
            self.warning(
                KEY,
                format!(
                    "{} sends every account's token to /wham/usage that often; every response already carries the quota, so a probe every {} or more is plenty",
                    humantime::format_duration(every),
                    humantime::format_duration(USAGE_PROBE_QUIET)
                ),
            );
        }
        Some(every)
    }

    /// `[[accounts]]`: unique valid names; auth files relative to `base`,
    /// each used by one account (two that refresh one login log it out).
    pub(super) fn accounts(&mut self, raw: Vec<RawAccount>, base: &Path) -> Vec<AccountConfig> {
        let mut seen = HashSet::new();
        let mut files: HashMap<PathBuf, usize> = HashMap::new();
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
            let auth_file = resolve(base, &a.auth_file);
            if a.auth_file.trim().is_empty() {
                self.problem(format!("{key}.auth_file"), "must not be empty");
            } else if let Some(first) = files.get(&auth_file) {
                self.problem(
                    format!("{key}.auth_file"),
                    format!(
                        "{} is also the auth file of accounts[{first}]: two accounts refreshing one login log it out",
                        auth_file.display()
                    ),
                );
            } else {
                files.insert(auth_file.clone(), i);
            }
            out.push(AccountConfig {
                auth_file,
                priority: a.priority.unwrap_or(i as i64 + 1),
                enabled: a.enabled.unwrap_or(true),
                name: a.name,
            });
        }
        out
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
            access: None,
        }
    }
}

/// An `auth_file` as written: `~/` is the home folder; relative is to `base`.
pub(super) fn resolve(base: &Path, path: &str) -> PathBuf {
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
