//! The optional shared store: Redis, so several replicas behave as one
//! gateway (`[store]`, README "Several replicas"). Without `[store]` nothing
//! here runs and all state stays in the process, as it always did.
//!
//! `Redis` owns the connection (redis' `ConnectionManager`, which reconnects
//! by itself), whether the store answers now (`up`, the `codex_pool_store_up`
//! gauge), and the encryption key. What is kept there, and how:
//! - `tokens.rs`: each account's login, sealed (`crate::seal`), and the refresh
//!   lock (SET NX PX with an owner token, compare-and-delete in Lua);
//! - `values.rs`: plain values, many read or written in one round trip
//!   (account health and quota: `pool::replicas`);
//! - `rate.rs`: client keys' `requests_per_minute`, GCRA in Lua;
//! - `affinity.rs`: which account each conversation is on;
//! - `usage.rs`: the hourly usage rollups, summed over replicas.
//!
//! Every call has a short deadline: a store that does not answer is treated
//! as down (and the caller falls back to what this replica knows), never
//! waited on by a request.

mod conversations;
mod lock;
mod rate;
mod scripts;
mod sealed;
mod values;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub use lock::LockToken;
pub use values::Writes;

use crate::config::StoreConfig;
use crate::seal;

/// The longest one store call may take before it counts as down.
const CALL_DEADLINE: Duration = Duration::from_millis(800);

/// Why a store call did not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not connected, timed out, or Redis answered with an error.
    #[error("store unavailable")]
    Unavailable,
    /// A value that does not decrypt with this key (another key, tampering).
    #[error("a value in the store does not decrypt with this encryption key")]
    Undecryptable,
}

/// The shared store of one gateway.
pub struct Redis {
    client: redis::Client,
    conn: ArcSwapOption<ConnectionManager>,
    prefix: String,
    key: seal::Key,
    up: AtomicBool,
    scripts: scripts::Scripts,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("store::Redis")
            .field("prefix", &self.prefix)
            .field("up", &self.is_up())
            .finish_non_exhaustive()
    }
}

impl Redis {
    /// The store `config` describes; it connects on first use (`connect`).
    pub fn new(config: &StoreConfig) -> Result<Arc<Redis>, redis::RedisError> {
        let client = redis::Client::open(config.redis_url.expose().as_str())?;
        Ok(Arc::new(Redis {
            client,
            conn: ArcSwapOption::empty(),
            prefix: config.key_prefix.clone(),
            key: config.key.clone(),
            up: AtomicBool::new(false),
            scripts: scripts::Scripts::new(),
        }))
    }

    /// Makes the connection manager (in the runtime; it connects lazily and
    /// reconnects by itself).
    pub fn connect(&self) {
        if self.conn.load().is_some() {
            return;
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CALL_DEADLINE))
            .set_response_timeout(Some(CALL_DEADLINE))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        match ConnectionManager::new_lazy_with_config(self.client.clone(), config) {
            Ok(c) => self.conn.store(Some(Arc::new(c))),
            Err(e) => tracing::warn!(kind = ?e.kind(), "cannot set up the store connection"),
        }
    }

    /// Whether the last call reached the store.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    fn mark(&self, up: bool) {
        let was = self.up.swap(up, Ordering::Relaxed);
        if was != up {
            if up {
                tracing::info!("the shared store is reachable");
            } else {
                tracing::warn!("the shared store is unreachable; serving from what this replica knows, no token refresh until it is back");
            }
        }
    }

    /// The Redis key of the value `name` of a `kind`, under the prefix.
    pub(crate) fn key(&self, kind: &str, name: &str) -> String {
        format!("{}{kind}:{name}", self.prefix)
    }

    /// The key values are sealed with (and tokens digested with).
    pub(crate) fn sealing_key(&self) -> &seal::Key {
        &self.key
    }

    /// Runs one command or pipeline against the store, within the deadline.
    pub(crate) async fn call<T: redis::FromRedisValue>(
        &self,
        cmd: &(impl RedisRunnable + ?Sized),
    ) -> Result<T, Error> {
        let Some(conn) = self.conn.load_full() else {
            self.mark(false);
            return Err(Error::Unavailable);
        };
        let mut conn = (*conn).clone();
        match tokio::time::timeout(CALL_DEADLINE, cmd.run(&mut conn)).await {
            Ok(Ok(v)) => {
                self.mark(true);
                redis::from_redis_value(v).map_err(|_| Error::Unavailable)
            }
            Ok(Err(e)) => {
                // Only a store that cannot be reached is down: an error
                // reply (WRONGTYPE on one value, NOPERM, a script error) fails
                // this call, and marking the whole store down on it would
                // flap with every touch of one bad value.
                let outage = e.is_io_error()
                    || e.is_timeout()
                    || e.is_connection_dropped()
                    || e.is_connection_refusal();
                tracing::debug!(kind = ?e.kind(), outage, "store call failed");
                self.mark(!outage);
                Err(Error::Unavailable)
            }
            Err(_) => {
                self.mark(false);
                Err(Error::Unavailable)
            }
        }
    }

    /// A PING, to tell whether the store is back.
    pub async fn ping(&self) -> bool {
        self.call::<String>(&redis::cmd("PING")).await.is_ok()
    }
}

/// A command, a pipeline or a script invocation.
pub(crate) trait RedisRunnable: Sync {
    fn run<'a>(
        &'a self,
        conn: &'a mut ConnectionManager,
    ) -> futures_util::future::BoxFuture<'a, redis::RedisResult<redis::Value>>;
}

impl RedisRunnable for redis::Cmd {
    fn run<'a>(
        &'a self,
        conn: &'a mut ConnectionManager,
    ) -> futures_util::future::BoxFuture<'a, redis::RedisResult<redis::Value>> {
        Box::pin(self.query_async(conn))
    }
}

impl RedisRunnable for redis::Pipeline {
    fn run<'a>(
        &'a self,
        conn: &'a mut ConnectionManager,
    ) -> futures_util::future::BoxFuture<'a, redis::RedisResult<redis::Value>> {
        Box::pin(self.query_async(conn))
    }
}

impl RedisRunnable for redis::ScriptInvocation<'_> {
    fn run<'a>(
        &'a self,
        conn: &'a mut ConnectionManager,
    ) -> futures_util::future::BoxFuture<'a, redis::RedisResult<redis::Value>> {
        Box::pin(self.invoke_async(conn))
    }
}
