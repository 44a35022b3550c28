//! Where one request of a key's rate is counted: with a shared store that
//! answers, across replicas (`store::Redis::take_rate`, GCRA in Redis);
//! otherwise, and when a call to it fails, in this replica's own limiter.
//! The choice is the key's: the server only asks for the request.

use super::{ClientKey, Refusal};
use crate::store::Redis;

/// Where a key's rate is counted.
#[derive(Debug)]
enum Backend<'a> {
    /// Across replicas: the store, at `rpm`.
    Shared(&'a Redis, u32),
    /// In this process (`ClientKey::admit_rate_locally`).
    Local,
}

impl ClientKey {
    /// One request of the key's rate, counted where `backend` says; a refusal
    /// says how long the rate is spent.
    pub async fn take_rate(&self, store: Option<&Redis>) -> Result<(), Refusal> {
        match self.backend(store) {
            Backend::Shared(shared, rpm) => match shared.take_rate(self.name(), rpm).await {
                Ok(None) => Ok(()),
                Ok(Some(wait)) => Err(self.refuse_for(wait)),
                Err(_) => self.admit_rate_locally(),
            },
            Backend::Local => self.admit_rate_locally(),
        }
    }

    /// The store while it is up, for a key with a rate; else this process.
    fn backend<'a>(&self, store: Option<&'a Redis>) -> Backend<'a> {
        match (store.filter(|s| s.is_up()), self.rpm()) {
            (Some(shared), Some(rpm)) => Backend::Shared(shared, rpm),
            _ => Backend::Local,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sha2::{Digest, Sha256};

    use super::*;
    use crate::config::{ApiKeyConfig, StoreConfig};
    use crate::keys::build;
    use crate::secret::Secret;

    fn limited(rpm: Option<u32>) -> Arc<ClientKey> {
        let c = ApiKeyConfig {
            name: "a".into(),
            key_sha256: Sha256::digest(b"sk-a-123456").into(),
            strategy: None,
            accounts: None,
            requests_per_minute: rpm,
            tokens_per_hour: None,
            tokens_per_day: None,
            models: None,
        };
        build(&[c], &[]).remove(0)
    }

    /// A store that has not answered yet (nothing listens on port 1): down.
    fn unreachable_store() -> Arc<Redis> {
        let key = crate::seal::Key::parse(&crate::seal::Key::generate().unwrap()).unwrap();
        Redis::new(&StoreConfig {
            redis_url: Secret::new("redis://127.0.0.1:1".into()),
            key_prefix: "t:".into(),
            key_file: "unused".into(),
            key,
        })
        .unwrap()
    }

    #[test]
    fn without_a_store_the_rate_is_this_replicas() {
        assert!(matches!(limited(Some(2)).backend(None), Backend::Local));
    }

    #[test]
    fn a_store_that_is_down_leaves_the_rate_to_this_replica() {
        let store = unreachable_store();
        assert!(!store.is_up());
        assert!(matches!(
            limited(Some(2)).backend(Some(&store)),
            Backend::Local
        ));
    }

    #[test]
    fn a_key_without_a_rate_never_asks_the_store() {
        let store = unreachable_store();
        assert!(matches!(
            limited(None).backend(Some(&store)),
            Backend::Local
        ));
        assert!(matches!(
            limited(Some(0)).backend(Some(&store)),
            Backend::Local
        ));
    }

    #[tokio::test]
    async fn the_local_limiter_counts_when_the_store_is_down() {
        let store = unreachable_store();
        let key = limited(Some(2));
        assert!(key.take_rate(Some(&store)).await.is_ok());
        assert!(key.take_rate(Some(&store)).await.is_ok());
        let third = key.take_rate(Some(&store)).await;
        assert!(
            matches!(third, Err(Refusal::RateLimited { rpm: 2, .. })),
            "{third:?}"
        );
    }
}
