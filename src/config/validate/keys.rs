//! Who may call the gateway: the client keys (`[[api_keys]]`), the check
//! that a listener others can reach has some, and the admin token
//! (`[admin]`). Each secret is kept only as its SHA-256.

use std::collections::HashSet;

use sha2::{Digest, Sha256};

use super::Validator;
use crate::config::raw::{RawAdmin, RawApiKey};
use crate::config::{valid_name, AccountConfig, AdminToken, ApiKeyConfig, ServerConfig, NAME_RULE};
use crate::secret::Secret;

/// An admin token shorter than this is refused on a listener others can reach.
const ADMIN_TOKEN_MIN_CHARS: usize = 16;

impl Validator {
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
            (Some(secret), None) => {
                self.clear_secret(format!("{key}.key"));
                Some(Sha256::digest(secret.expose().as_bytes()).into())
            }
            (None, Some(hexed)) => self.sha256_hex(&format!("{key}.key_sha256"), hexed),
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

    /// `[admin]`: `token` or `token_sha256`; off loopback, a token that is
    /// not guessable in practice.
    pub(super) fn admin(&mut self, raw: RawAdmin, server: &ServerConfig) -> Option<AdminToken> {
        match (raw.token, raw.token_sha256) {
            (None, None) => None,
            (Some(_), Some(_)) => {
                self.problem("admin", "set either token or token_sha256, not both");
                None
            }
            (None, Some(hexed)) => {
                self.sha256_hex("admin.token_sha256", &hexed)
                    .map(|sha256| AdminToken {
                        sha256,
                        clear: None,
                    })
            }
            (Some(token), None) => {
                let text = token.expose();
                if text.is_empty() {
                    self.problem(
                        "admin.token",
                        "must not be empty; remove [admin] to turn the admin API off",
                    );
                    return None;
                }
                let listen = server.listen;
                let weak = text.chars().count() < ADMIN_TOKEN_MIN_CHARS || text == "change-me";
                if weak && !listen.ip().is_loopback() {
                    self.problem(
                        "admin.token",
                        format!(
                            "is too weak for {listen}, a listener others can reach: use at least {ADMIN_TOKEN_MIN_CHARS} characters, not the example's (run `codex-pool admin-token` for one)"
                        ),
                    );
                }
                self.clear_secret("admin.token");
                Some(AdminToken {
                    sha256: Sha256::digest(text.as_bytes()).into(),
                    clear: Some(token),
                })
            }
        }
    }
}
