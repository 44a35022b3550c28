//! `[store]`: the Redis URL (redis:// or rediss://), the key prefix, and the
//! encryption key file, read here so that `check-config` and a reload find a
//! missing, unreadable or too-open key file before the gateway needs it.

use std::path::Path;

use super::sections::resolve;
use super::Validator;
use crate::config::raw::RawStore;
use crate::config::{StoreConfig, DEFAULT_KEY_PREFIX};
use crate::seal;
use crate::secret::Secret;

/// A prefix longer than this is a typo; it is in every key of every request.
const MAX_PREFIX: usize = 64;

impl Validator {
    pub(super) fn store(&mut self, raw: RawStore, base: &Path) -> Option<StoreConfig> {
        let Some(url) = raw.redis_url else {
            if raw.key_prefix.is_some() || raw.encryption_key_file.is_some() {
                self.problem(
                    "store.redis_url",
                    "is required when [store] sets other keys",
                );
            }
            return None;
        };
        let url_ok = self.redis_url(url.expose());
        let key_prefix = raw.key_prefix.unwrap_or_else(|| DEFAULT_KEY_PREFIX.into());
        if key_prefix.len() > MAX_PREFIX || key_prefix.chars().any(|c| c.is_control() || c == ' ') {
            self.problem(
                "store.key_prefix",
                format!("must be at most {MAX_PREFIX} bytes without spaces or control characters"),
            );
        }
        let Some(file) = raw.encryption_key_file else {
            self.problem(
                "store.encryption_key_file",
                "is required with store.redis_url (make a key with `codex-pool store-key`)",
            );
            return None;
        };
        let key_file = resolve(base, &file);
        let key = match seal::Key::load(&key_file) {
            Ok(k) => k,
            Err(e) => {
                self.problem(
                    "store.encryption_key_file",
                    format!("{}: {e}", key_file.display()),
                );
                return None;
            }
        };
        url_ok.then_some(StoreConfig {
            redis_url: Secret::new(url.expose().clone()),
            key_prefix,
            key_file,
            key,
        })
    }

    /// Whether `text` is a redis:// or rediss:// URL the client accepts. The
    /// message never quotes it: it may hold a password.
    fn redis_url(&mut self, text: &str) -> bool {
        let scheme_ok = url::Url::parse(text)
            .ok()
            .is_some_and(|u| matches!(u.scheme(), "redis" | "rediss") && u.host().is_some());
        if !scheme_ok || redis::Client::open(text).is_err() {
            self.problem(
                "store.redis_url",
                "is not a redis://host:port/db or rediss://host:port/db URL",
            );
            return false;
        }
        let plain_off_loopback = url::Url::parse(text)
            .ok()
            .is_some_and(|u| u.scheme() == "redis" && !super::loopback_host(&u));
        if plain_off_loopback {
            self.warning(
                "store.redis_url",
                "redis:// to a host off this machine: the Redis password and the shared health, quota and conversation values cross the network in clear, and an on-path writer can change them; use rediss:// (TLS)",
            );
        }
        true
    }
}
