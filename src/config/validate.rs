//! Turning the raw file into a `Config`: every section and list element is
//! deserialized on its own and checked, so one run reports every problem
//! with its key.
//!
//! Here: the generic checks (a section, a list, a duration, an address, a
//! URL, a positive number, one of an enum's names) and the order the file is
//! read in. What each section asks of its values is in `validate/sections.rs`.

mod models;
mod sections;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::value::StrDeserializer;
use serde::de::{DeserializeOwned, IntoDeserializer};

use super::raw::RawModels;
use super::raw::{
    RawAccount, RawAdmin, RawApiKey, RawLog, RawMetrics, RawPool, RawServer, RawUpstream,
};
use super::{defaults, Config, Problem};

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
        let models: RawModels = self.section(&mut table, "models");
        for key in table.keys() {
            self.problem(key.as_str(), "unknown key");
        }

        let server = self.server(server, &d.server);
        let upstream = self.upstream(upstream, &d.upstream);
        let pool = self.pool(pool, &d.pool);
        let accounts = self.accounts(accounts, base);
        let api_keys = self.api_keys(api_keys, &accounts);
        self.exposure(&server, &api_keys);
        let admin_token = self.admin(admin);
        let metrics_listen = metrics.listen.and_then(|t| self.addr("metrics.listen", &t));
        let log = self.log(log, d.log);
        let models = self.models(models);

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
            models,
        })
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
