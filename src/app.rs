//! The process-wide state: the live snapshot behind one `ArcSwap`, and what
//! outlives snapshots (accounts by name, metrics, the activity log, the
//! conversation affinity tables, the models catalog). The upstream client is a snapshot's, carried over to the
//! next one while its settings stay the same.
//!
//! A reload builds a whole new `Snapshot` and stores it in one swap, so a
//! request sees either the old configuration or the new one, never a mix.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::affinity::Affinity;
use crate::auth::file::Credentials;
use crate::auth::flights::Flights;
use crate::auth::refresh::{self, RefreshError};
use crate::catalog::Catalog;
use crate::config::Config;
use crate::keys::{self, ClientKey};
use crate::metrics::Metrics;
use crate::pool::quota::{self, Quota};
use crate::pool::{activity::Activity, Account, Pool, Registry};
use crate::store::Redis;
use crate::upstream;

/// Everything one configuration version decides.
pub struct Snapshot {
    pub config: Arc<Config>,
    pub pool: Pool,
    pub keys: Vec<Arc<ClientKey>>,
    /// Rebuilt when `[upstream]` base_url, connect_timeout or client_version change;
    /// otherwise carried over (and its connections with it).
    pub upstream: Arc<upstream::Client>,
}

pub struct App {
    live: ArcSwap<Snapshot>,
    pub accounts: Registry,
    pub metrics: Metrics,
    pub activity: Activity,
    /// Which account each conversation, turn-state and encrypted blob is on.
    pub affinity: Affinity,
    /// One reload at a time (SIGHUP, the file watcher and the admin API).
    pub reloading: std::sync::Mutex<()>,
    pub models: ArcSwap<Catalog>,
    /// Token refreshes in progress; shutdown waits for them (`run_app`).
    pub flights: Flights,
    /// `[store]`: the state shared with other replicas; `None` (the default)
    /// keeps everything in this process. Set at start; a reload does not change it.
    pub store: Option<Arc<Redis>>,
    /// The Codex version the gateway presents (`upstream::identity`).
    pub identity: Arc<upstream::Identity>,
    /// Finished requests on their way to the usage rollups and access log.
    pub usage: crate::usage::Recorder,
    /// Device-code logins started from the console.
    pub logins: crate::auth::login::Pending,
    /// Upstream sockets kept for HTTP conversations (`proxy::bridge`).
    pub bridge: upstream::ws::kept::Kept,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Upstream(#[from] upstream::ClientError),
    #[error("cannot register metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("store.redis_url cannot be used ({0:?})")]
    Store(redis::ErrorKind),
}

impl App {
    pub fn new(config: Config) -> Result<Arc<App>, StartError> {
        let identity = Arc::new(upstream::Identity::new());
        let upstream = Arc::new(upstream::Client::new(
            &config.upstream,
            Arc::clone(&identity),
        )?);
        let store = match &config.store {
            Some(c) => Some(Redis::new(c).map_err(|e| StartError::Store(e.kind()))?),
            None => None,
        };
        let metrics = Metrics::new()?;
        let accounts = Registry::default();
        let activity = Activity::new(config.pool.activity_size);
        let affinity = Affinity::new(&config, store.clone());
        let bridge = upstream::ws::kept::Kept::new(metrics.bridge.open.clone());
        let snapshot = build(&accounts, config, &[], upstream);
        metrics.touch(snapshot.pool.accounts(), &key_names(&snapshot));
        Ok(Arc::new(App {
            live: ArcSwap::from_pointee(snapshot),
            accounts,
            metrics,
            activity,
            affinity,
            reloading: std::sync::Mutex::new(()),
            models: ArcSwap::from_pointee(Catalog::builtin()),
            flights: Flights::default(),
            store,
            identity,
            usage: crate::usage::Recorder::default(),
            logins: Default::default(),
            bridge,
        }))
    }

    /// Asks `/wham/usage` for `account`'s windows now and keeps what it says
    /// (`Account::set_quota`): the background probe and the native usage
    /// route's. The reading kept, when upstream gave one.
    pub async fn probe_usage(&self, account: &Account, timeout: Duration) -> Option<Quota> {
        let snap = self.snapshot();
        let creds = account.credentials()?;
        let url = upstream::usage_url(&snap.config.upstream.base_url);
        match snap.upstream.get_json(&url, &creds, timeout).await {
            Ok((_, body)) => {
                account.set_quota(quota::from_usage_body(&body)?);
                account.quota()
            }
            Err(e) => {
                tracing::debug!(account = %account.name, error = %e, "usage probe failed");
                None
            }
        }
    }

    /// The current snapshot; hold it for the whole request.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.live.load_full()
    }

    /// Swaps in a new, already validated configuration.
    pub fn apply(&self, config: Config) -> Result<(), StartError> {
        let old = self.live.load_full();
        let (was, now) = (&old.config.upstream, &config.upstream);
        let same = was.connect_timeout == now.connect_timeout
            && was.client_version == now.client_version
            && was.base_url == now.base_url;
        let upstream = if same {
            Arc::clone(&old.upstream)
        } else {
            Arc::new(upstream::Client::new(now, Arc::clone(&self.identity))?)
        };
        if old.config.store != config.store {
            tracing::warn!(
                "[store] changed; the shared store is set at start: restart to use the new one"
            );
        }
        if old.config.affinity != config.affinity {
            self.affinity.resize(&config.affinity);
        }
        let snapshot = build(&self.accounts, config, &old.keys, upstream);
        self.metrics
            .touch(snapshot.pool.accounts(), &key_names(&snapshot));
        self.live.store(Arc::new(snapshot));
        Ok(())
    }

    /// Refreshes `account`'s login unless someone already replaced `stale`,
    /// with the current snapshot's upstream client and issuer.
    ///
    /// Counts the refreshes metric and logs a failure when this call reached
    /// the issuer itself. An account waiting for a new login is back once fresh
    /// tokens are stored (in the flight's task, so even if this future is
    /// dropped). What a failure does to the account (`Setback::from`) is the
    /// caller's to apply: a request, the background loop and the admin API
    /// each apply it their own way.
    pub async fn refresh_login(
        &self,
        account: &Arc<Account>,
        stale: &Credentials,
    ) -> Result<Arc<Credentials>, RefreshError> {
        self.renew(account, Some(&stale.access_token)).await
    }

    /// With a shared store: adopts the store's login of `account`, or seeds
    /// the store from its auth file (under the store's lock; no issuer call).
    pub async fn sync_login(
        &self,
        account: &Arc<Account>,
    ) -> Result<Arc<Credentials>, RefreshError> {
        self.renew(account, None).await
    }

    async fn renew(
        &self,
        account: &Arc<Account>,
        stale: Option<&crate::secret::Secret<String>>,
    ) -> Result<Arc<Credentials>, RefreshError> {
        let snap = self.snapshot();
        let login = refresh::Login {
            tokens: Arc::clone(&account.tokens),
            path: account.settings().auth_file.clone(),
            name: account.name.clone(),
        };
        let revive = {
            let account = Arc::clone(account);
            move || account.revive()
        };
        let done = refresh::refresh(
            snap.upstream.http(),
            &snap.config.upstream.issuer,
            &self.flights,
            self.store.as_ref(),
            login,
            stale,
            revive,
        )
        .await;
        let quiet = match &done.result {
            Err(e) if !done.called_issuer => Some(e.to_string()),
            _ => None,
        };
        if account.tokens.mirror.note_quiet_failure(quiet.as_deref()) {
            tracing::warn!(account = %account.name, error = quiet.as_deref().unwrap_or(""),
                "token refresh failed before reaching the issuer (said once per reason)");
        }
        if done.called_issuer {
            let outcome = match &done.result {
                Ok(_) => "ok",
                Err(e) => e.outcome(),
            };
            self.metrics.refresh(&account.name, outcome);
            if let Err(e) = &done.result {
                tracing::warn!(account = %account.name, error = %e, "token refresh failed");
            }
        }
        done.result
    }
}

fn build(
    accounts: &Registry,
    config: Config,
    old_keys: &[Arc<ClientKey>],
    upstream: Arc<upstream::Client>,
) -> Snapshot {
    let members = accounts.sync(&config.accounts);
    let pool = Pool::new(members, config.pool.max_attempts);
    let keys = keys::build(&config.api_keys, old_keys);
    Snapshot {
        config: Arc::new(config),
        pool,
        keys,
        upstream,
    }
}

fn key_names(s: &Snapshot) -> Vec<String> {
    s.keys.iter().map(|k| k.config.name.clone()).collect()
}
