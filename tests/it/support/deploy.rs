//! One gateway, or two replicas (the real binary, twice) sharing a real
//! Redis: the behaviours that exist in both are written once, as a test body
//! taking a `Deployment`, and run against each (`on_both!`).

use super::builder::Builder;
use super::redis_server::Redis;
use super::{cli, Gateway};

/// Where a test body runs.
#[derive(Clone, Copy, Debug)]
pub enum Deployment {
    /// One gateway, in process, its state in memory.
    Single,
    /// Two gateway processes on one Redis (`[store]`).
    Replicas,
}

/// A started deployment: its doors, and the Redis behind the replicas.
pub struct Deployed {
    pub gateways: Vec<Gateway>,
    pub redis: Option<Redis>,
    _keys: Option<tempfile::TempDir>,
}

impl Deployment {
    /// Starts what `b` describes, once or as two replicas; replicas are
    /// returned once both have their store up.
    pub async fn start(self, b: Builder) -> Deployed {
        match self {
            Deployment::Single => Deployed {
                gateways: vec![b.start().await],
                redis: None,
                _keys: None,
            },
            Deployment::Replicas => {
                let redis = Redis::start().await;
                let keys = tempfile::tempdir().unwrap();
                let key = cli::store_key(keys.path());
                let b = b.store(&redis.url(), &key);
                let gateways = vec![b.clone().spawn().await, b.spawn().await];
                for gw in &gateways {
                    gw.store_up().await;
                }
                Deployed {
                    gateways,
                    redis: Some(redis),
                    _keys: Some(keys),
                }
            }
        }
    }
}

impl Deployed {
    /// Door `i` (one gateway is every door; replicas alternate).
    pub fn door(&self, i: usize) -> &Gateway {
        &self.gateways[i % self.gateways.len()]
    }

    /// The logs of every process, for a failure message.
    pub fn logs(&self) -> String {
        self.gateways
            .iter()
            .enumerate()
            .map(|(i, g)| format!("--- door {i}:\n{}", g.log()))
            .collect()
    }
}

/// A test body run against one gateway and against two replicas:
/// `on_both! { async fn name(d) { … d.start(builder).await … } }` makes the
/// tests `name::one_gateway` and `name::two_replicas`.
macro_rules! on_both {
    ($(#[$doc:meta])* async fn $name:ident($d:ident) $body:block) => {
        $(#[$doc])*
        mod $name {
            #[allow(unused_imports, reason = "whatever the body uses")]
            use super::*;

            async fn body($d: $crate::support::Deployment) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn one_gateway() {
                body($crate::support::Deployment::Single).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn two_replicas() {
                body($crate::support::Deployment::Replicas).await
            }
        }
    };
}
