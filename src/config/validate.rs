//! Turning the raw file into a `Config`: every section and list element is
//! deserialized on its own and checked, so one run reports every problem
//! with its key.
//!
//! Here: the generic checks (a section, a list, a duration and its range, an
//! address, a URL, a positive number, one of an enum's names), the order the
//! file is read in, and the warning about secrets in a file others can read.
//! What each section asks of its values is in `validate/sections.rs`; client
//! keys and the admin token in `validate/keys.rs`.

mod keys;
mod models;
mod sections;
mod store;
mod usage;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::value::StrDeserializer;
use serde::de::{DeserializeOwned, IntoDeserializer};

use super::raw::{
    RawAccount, RawAdmin, RawAffinity, RawApiKey, RawLog, RawMetrics, RawPool, RawServer, RawStore,
    RawUpstream,
};
use super::raw::{RawModels, RawUsage};
use super::{defaults, AffinityConfig, Config, Problem};

/// The most conversations `[affinity]` may be told to remember.
const MAX_CONVERSATIONS: usize = 10_000_000;

/// The range a duration key accepts, and why (shown with a refusal).
pub(super) struct Bound {
    pub(super) min: Duration,
    pub(super) max: Option<Duration>,
    pub(super) why: &'static str,
}

/// Collects problems (the file is refused) and warnings (it is not) while
/// turning raw sections into a `Config`.
#[derive(Default)]
pub(super) struct Validator {
    pub(super) problems: Vec<Problem>,
    pub(super) warnings: Vec<Problem>,
    /// The file's permission bits, when it is read from disk.
    pub(super) file_mode: Option<u32>,
    /// Keys that hold a secret in clear (`admin.token`, `api_keys[0].key`).
    clear_secrets: Vec<String>,
}

/// No duration key means anything past a year: a longer value is a typo, and
/// would overflow the clock arithmetic it feeds.
const LONGEST_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

impl Validator {
    pub(super) fn problem(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            key: key.into(),
            message: message.into(),
        });
    }

    pub(super) fn warning(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Problem {
            key: key.into(),
            message: message.into(),
        });
    }

    /// Notes that `key` holds a secret in clear, for `secrets_readable`.
    pub(super) fn clear_secret(&mut self, key: impl Into<String>) {
        self.clear_secrets.push(key.into());
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
            Ok(d) if d > LONGEST_DURATION => {
                self.problem(key, format!("{text:?} is more than a year"));
                default
            }
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

    /// A duration with its own sane range (`Bound`); a value outside it is
    /// reported with the bound and why it exists.
    fn bounded(
        &mut self,
        key: &str,
        value: Option<String>,
        default: Duration,
        bound: &Bound,
    ) -> Duration {
        let d = self.duration(key, value, default);
        self.within(key, d, default, bound)
    }

    /// `d` when `bound` allows it; else the problem, and `default`.
    fn within(&mut self, key: &str, d: Duration, default: Duration, bound: &Bound) -> Duration {
        let show = |d: Duration| humantime::format_duration(d).to_string();
        if d < bound.min {
            self.problem(
                key,
                format!(
                    "{} is less than the minimum of {}: {}",
                    show(d),
                    show(bound.min),
                    bound.why
                ),
            );
            return default;
        }
        if let Some(max) = bound.max.filter(|&max| d > max) {
            self.problem(
                key,
                format!(
                    "{} is more than the maximum of {}: {}",
                    show(d),
                    show(max),
                    bound.why
                ),
            );
            return default;
        }
        d
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

    /// An `https://` URL, or `http://` to a loopback host (a local mock or
    /// tunnel): tokens travel to these URLs, and must not travel in clear.
    fn url(&mut self, key: &str, text: String, default: &str) -> String {
        let parsed = url::Url::parse(&text).ok();
        let Some(u) = parsed.filter(|u| matches!(u.scheme(), "http" | "https")) else {
            self.problem(key, format!("{text:?} is not an http(s) URL"));
            return default.to_string();
        };
        if u.host().is_none() {
            self.problem(key, format!("{text:?} is not an http(s) URL"));
            return default.to_string();
        }
        let loopback = loopback_host(&u);
        if u.scheme() == "http" && !loopback {
            self.problem(
                key,
                format!(
                    "{text:?} would send account tokens in clear: use https://, or http:// only to localhost, 127.0.0.0/8 or [::1]"
                ),
            );
            return default.to_string();
        }
        text.trim_end_matches('/').to_string()
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
        let affinity: RawAffinity = self.section(&mut table, "affinity");
        let accounts: Vec<RawAccount> = self.list(&mut table, "accounts");
        let api_keys: Vec<RawApiKey> = self.list(&mut table, "api_keys");
        let models: RawModels = self.section(&mut table, "models");
        let store: RawStore = self.section(&mut table, "store");
        let usage: RawUsage = self.section(&mut table, "usage");
        for key in table.keys() {
            self.problem(key.as_str(), "unknown key");
        }

        let server = self.server(server, &d.server);
        let upstream = self.upstream(upstream, &d.upstream);
        let pool = self.pool(pool, &d.pool);
        let accounts = self.accounts(accounts, base);
        let api_keys = self.api_keys(api_keys, &accounts);
        self.exposure(&server, &api_keys);
        let admin_token = self.admin(admin, &server);
        let metrics_listen = metrics.listen.and_then(|t| self.addr("metrics.listen", &t));
        let access = self.access_log(&log, base);
        let mut log = self.log(log, d.log);
        log.access = access;
        let affinity = AffinityConfig {
            enabled: affinity.enabled.unwrap_or(d.affinity.enabled),
            ttl: self.duration("affinity.ttl", affinity.ttl, d.affinity.ttl),
            max_conversations: self.positive(
                "affinity.max_conversations",
                affinity.max_conversations,
                d.affinity.max_conversations,
            ),
        };
        if affinity.max_conversations > MAX_CONVERSATIONS {
            self.problem(
                "affinity.max_conversations",
                format!(
                    "{} is more than {MAX_CONVERSATIONS}",
                    affinity.max_conversations
                ),
            );
        }
        self.secrets_readable();
        let models = self.models(models);
        let store = self.store(store, base);
        let usage = self.usage(usage, base, path.is_some(), d.usage);

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
            affinity,
            warnings: std::mem::take(&mut self.warnings),
            models,
            store,
            usage,
        })
    }

    /// A file that holds secrets in clear should be readable by its owner
    /// only, as the auth files are; a wider one is a warning, not a refusal.
    fn secrets_readable(&mut self) {
        let Some(mode) = self.file_mode else { return };
        if mode & 0o044 == 0 || self.clear_secrets.is_empty() {
            return;
        }
        let keys = self.clear_secrets.join(", ");
        self.warning(
            "",
            format!(
                "the file is readable by group or others (mode {:o}) and holds secrets in clear ({keys}): chmod 600 it, or use token_sha256 / key_sha256",
                mode & 0o777
            ),
        );
    }

    /// `server.allowed_origins`: `*` or `scheme://host[:port]`, nothing more.
    fn origins(&mut self, list: Vec<String>) -> Vec<String> {
        for o in &list {
            let ok = o == "*"
                || o.split_once("://").is_some_and(|(scheme, rest)| {
                    matches!(scheme, "http" | "https")
                        && !rest.is_empty()
                        && !rest.trim_end_matches('/').contains('/')
                });
            if !ok {
                self.problem(
                    "server.allowed_origins",
                    format!("{o:?} is not an origin: write it as https://host[:port], or \"*\""),
                );
            }
        }
        list
    }

    /// A SHA-256 written as 64 hex characters, under `key`.
    fn sha256_hex(&mut self, key: &str, text: &str) -> Option<[u8; 32]> {
        let parsed = hex::decode(text.trim())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok());
        if parsed.is_none() {
            self.problem(key, "must be 64 hex characters (a SHA-256)");
        }
        parsed
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
}

/// Whether `u` names this machine (`localhost`, 127.0.0.0/8, `[::1]`): what
/// travels there does not cross a network.
pub(crate) fn loopback_host(u: &url::Url) -> bool {
    match u.host() {
        None => false,
        // Non-http schemes (redis://) keep an address as an opaque name.
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost")
                || d.trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
    }
}
