//! The account pool: accounts, their health and quota, and routing strategies.
//!
//! An `Account`'s runtime state (credentials, cooldown, quota, counters) is keyed
//! by name in the `Registry` and outlives config snapshots; a `Pool`
//! (`pool/plan.rs`) is one snapshot's ordered view of those accounts, and
//! `Pool::plan_for` turns a strategy into the candidate list one request walks.
//!
//! A reload that drops an account holding refreshed tokens its file could not
//! take (`Account::has_unsaved_login`) does not drop those tokens: the account
//! is kept aside, logged as an error, and its tokens are still written to their
//! file by the 30 s retry (`Registry::persist_orphans`); listing the account
//! again brings it back with them.

pub mod activity;
pub mod breaker;
pub mod eligibility;
pub mod outcome;
pub mod pins;
mod plan;
pub mod quota;
pub mod replicas;
mod strategy;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwap;
use tokio::time::Instant;

use crate::auth::file::{self, Credentials};
use crate::auth::persist::{self, Persisted};
use crate::auth::slot::TokenSlot;
use crate::config::AccountConfig;
use crate::sync::lock;
pub use breaker::{Availability, Health, Setback, State};
pub use outcome::{Blame, Effect, Policy};
pub use plan::{Exhausted, Pool};
pub use quota::Quota;
pub use strategy::{order, priority_index};

/// One ChatGPT login and everything the gateway knows about it at run time.
pub struct Account {
    pub name: String,
    /// `name` as a header value, made once (`name_header`).
    name_value: Option<http::HeaderValue>,
    settings: ArcSwap<AccountConfig>,
    /// The login's tokens and its refresh flight (shared with a flight's task).
    pub tokens: Arc<TokenSlot>,
    health: Mutex<Health>,
    quota: Mutex<Option<Quota>>,
    last_error: Mutex<Option<&'static str>>,
    /// Models upstream refused this account lately (`eligibility`).
    pub models_set_aside: eligibility::SetAside,
    pub requests: AtomicU64,
    pub failures: AtomicU64,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Account {
    pub fn new(settings: AccountConfig) -> Account {
        Account {
            name: settings.name.clone(),
            name_value: http::HeaderValue::from_str(&settings.name).ok(),
            settings: ArcSwap::from_pointee(settings),
            tokens: Arc::default(),
            health: Mutex::new(Health::default()),
            quota: Mutex::new(None),
            last_error: Mutex::new(None),
            models_set_aside: eligibility::SetAside::default(),
            requests: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    /// An account with no file behind it (unit tests of strategies).
    pub fn detached(name: &str) -> Account {
        Account::new(AccountConfig {
            name: name.into(),
            auth_file: Default::default(),
            priority: 0,
            enabled: true,
        })
    }

    /// The account's name as a header value (`x-codex-pool-account`); a
    /// clone is a reference count. `None` when the name cannot be one.
    pub fn name_header(&self) -> Option<http::HeaderValue> {
        self.name_value.clone()
    }

    pub fn settings(&self) -> Arc<AccountConfig> {
        self.settings.load_full()
    }

    pub fn credentials(&self) -> Option<Arc<Credentials>> {
        self.tokens.credentials()
    }

    /// (Re)reads the auth file; a file that cannot be used parks the account.
    pub fn load_credentials(&self) -> Result<(), file::FileError> {
        let path = self.settings().auth_file.clone();
        match file::load_credentials(&path) {
            Ok((_, creds)) => {
                self.tokens.set_credentials(creds);
                let mut h = self.health();
                if h.state() == State::NeedsRelogin {
                    h.reset();
                }
                Ok(())
            }
            Err(e) => {
                self.health().login_unusable(&e.brief());
                Err(e)
            }
        }
    }

    /// For an account that needs a new login: adopts the file's tokens if they
    /// are not the dead ones (someone logged in again). Returns whether it did.
    pub fn reload_if_relogged(&self) -> bool {
        let Ok((_, creds)) = file::load_credentials(&self.settings().auth_file) else {
            return false;
        };
        if self
            .credentials()
            .is_some_and(|c| c.refresh_token == creds.refresh_token)
        {
            return false;
        }
        self.tokens.set_credentials(creds);
        self.health().reset();
        true
    }

    /// Writes tokens a refresh could not write (compare-and-swap, off the
    /// runtime's workers); true when none are left unsaved. A newer login found
    /// in the file is adopted instead, and revives an account waiting for one.
    pub async fn persist_unsaved(&self) -> bool {
        let serving = self.settings().auth_file.clone();
        match persist::persist_unsaved(&self.tokens, &self.name, &serving).await {
            Persisted::Clean => true,
            Persisted::Adopted => {
                self.revive();
                true
            }
            Persisted::Pending => false,
        }
    }

    /// Whether the account holds rotated tokens its file could not take yet.
    pub fn has_unsaved_login(&self) -> bool {
        self.tokens.has_unsaved()
    }

    /// An operator's `disable`: the account serves nothing until `enable`.
    pub fn disable_by_admin(&self) {
        self.health().disable_by_admin();
    }

    /// An operator's `enable`: back to ready, whatever it was.
    pub fn enable_by_admin(&self) {
        self.health().reset();
    }

    /// Fresh credentials arrived: an account waiting for a new login is back.
    pub fn revive(&self) {
        let mut h = self.health();
        if h.state() == State::NeedsRelogin {
            h.reset();
        }
    }

    pub fn health(&self) -> MutexGuard<'_, Health> {
        lock(&self.health)
    }

    /// Takes the account for one attempt, or `None` when it may not serve now.
    pub fn claim(&self, now: Instant) -> Option<Claimed<'_>> {
        let probe = self.health().claim(now)?;
        Some(Claimed {
            account: self,
            probe,
        })
    }

    pub fn availability(&self, now: Instant) -> Availability {
        if !self.settings.load().enabled {
            return Availability::Disabled {
                reason: "enabled = false in the config".into(),
            };
        }
        self.health().availability(now)
    }

    pub fn quota(&self) -> Option<Quota> {
        lock(&self.quota).clone()
    }

    pub fn set_quota(&self, q: Quota) {
        let mut cur = lock(&self.quota);
        let plan = q
            .plan
            .clone()
            .or_else(|| cur.as_ref().and_then(|c| c.plan.clone()));
        *cur = Some(Quota { plan, ..q });
    }

    /// The account's plan: its login's claim, else what `/wham/usage` said.
    pub fn plan(&self) -> Option<String> {
        self.credentials()
            .and_then(|c| c.plan.clone())
            .or_else(|| self.quota().and_then(|q| q.plan))
    }

    pub fn last_error(&self) -> Option<&'static str> {
        *lock(&self.last_error)
    }

    pub fn set_last_error(&self, kind: &'static str) {
        *lock(&self.last_error) = Some(kind);
        self.failures.fetch_add(1, Ordering::Relaxed);
    }
}

/// An account taken for one attempt. Its outcome is recorded with `succeeded`
/// or `failed` (`pool/outcome.rs`); dropped without one (the request's future was dropped while
/// it waited on upstream), a probe is given up so another request may decide.
pub struct Claimed<'a> {
    account: &'a Account,
    probe: Option<u64>,
}

impl Claimed<'_> {
    pub fn succeeded(mut self) {
        self.probe = None;
        self.account.health().on_success();
    }
}

impl Drop for Claimed<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.probe {
            self.account.health().release(p);
        }
    }
}

/// Accounts by name, across config reloads.
#[derive(Default)]
pub struct Registry {
    accounts: Mutex<HashMap<String, Arc<Account>>>,
    /// Accounts a reload dropped while they held unsaved tokens, until written.
    orphans: Mutex<Vec<Arc<Account>>>,
}

impl Registry {
    /// The accounts for a new snapshot, in file order: existing ones keep their
    /// runtime state (and get the new settings), new ones load their file.
    pub fn sync(&self, configs: &[AccountConfig]) -> Vec<Arc<Account>> {
        let mut map = lock(&self.accounts);
        let mut orphans = lock(&self.orphans);
        let mut out = Vec::with_capacity(configs.len());
        let mut to_load = Vec::new();
        for cfg in configs {
            // Listed again: an account dropped with unsaved tokens comes back with them.
            if let Some(i) = orphans.iter().position(|o| o.name == cfg.name) {
                let back = orphans.swap_remove(i);
                tracing::info!(account = %back.name, "the account is listed again; it keeps its unsaved tokens");
                map.insert(cfg.name.clone(), back);
            }
            let account = match map.get(&cfg.name) {
                Some(existing) => {
                    let changed_file = existing.settings().auth_file != cfg.auth_file;
                    if changed_file {
                        moved_with_unsaved(existing, cfg);
                    }
                    existing.settings.store(Arc::new(cfg.clone()));
                    if changed_file || existing.credentials().is_none() {
                        to_load.push(existing.clone());
                    }
                    existing.clone()
                }
                None => {
                    let a = Arc::new(Account::new(cfg.clone()));
                    map.insert(cfg.name.clone(), a.clone());
                    to_load.push(a.clone());
                    a
                }
            };
            out.push(account);
        }
        let dropped: Vec<String> = map
            .keys()
            .filter(|name| !configs.iter().any(|c| &c.name == *name))
            .cloned()
            .collect();
        for name in dropped {
            let Some(gone) = map.remove(&name) else {
                continue;
            };
            if let Some(file) = gone.tokens.unsaved_path() {
                tracing::error!(account = %name, file = %file.display(),
                    "the reload dropped an account that holds refreshed tokens its auth file could not take; still trying to write them there every 30 s (a restart before that loses the login)");
                orphans.push(gone);
            }
        }
        drop(orphans);
        drop(map);
        for a in to_load {
            if let Err(e) = a.load_credentials() {
                tracing::warn!(account = %a.name, error = %e, "account login cannot be used");
            }
        }
        out
    }

    /// Writes the unsaved tokens of accounts a reload dropped; forgets each
    /// once nothing of it is left unsaved.
    pub async fn persist_orphans(&self) {
        let orphans = lock(&self.orphans).clone();
        for a in orphans {
            if a.persist_unsaved().await {
                lock(&self.orphans).retain(|o| !Arc::ptr_eq(o, &a));
            }
        }
    }
}

/// Says so when a reload moves the auth file of an account whose tokens the
/// old file could not take: they belong to that login and keep being written
/// there, while the account now serves the new file's login.
fn moved_with_unsaved(account: &Account, new: &AccountConfig) {
    if let Some(old) = account.tokens.unsaved_path() {
        tracing::error!(account = %account.name, old_file = %old.display(), new_file = %new.auth_file.display(),
            "the reload moved the auth file of an account that holds refreshed tokens the old file could not take; still trying to write them there every 30 s, and serving the new file's login");
    }
}

#[cfg(test)]
mod tests;
