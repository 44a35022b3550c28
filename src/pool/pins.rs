//! Conversation affinity: which account a conversation, a turn-state token
//! and an encrypted blob belong to.
//!
//! The backend caches prompt prefixes per account, so a conversation that
//! stays on one account keeps its cache; some of its state is bound to the
//! account that produced it (`docs/upstream.md` §8): `x-codex-turn-state`
//! tokens, and reasoning items' `encrypted_content` and compaction blobs,
//! which another account refuses with `400 invalid_encrypted_content`.
//!
//! Three bounded LRU tables, keyed by digests (never the client's text):
//! conversation → account (soft: kept while the account is usable, expiring
//! `ttl` after last use), turn-state → the account that minted it (hard),
//! blob → the account that produced it. They live in `App` and outlive
//! config snapshots; a reload resizes them.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lru::LruCache;
use tokio::time::Instant;

use crate::sync::lock;

/// Turn-states and blobs remembered per conversation slot.
const BLOBS_PER_CONVERSATION: usize = 8;

/// The three tables.
pub struct Affinity {
    conversations: Mutex<LruCache<u64, Pin>>,
    turn_states: Mutex<LruCache<u64, Arc<str>>>,
    blobs: Mutex<LruCache<u64, Arc<str>>>,
    ttl: Mutex<Duration>,
    /// Keys the conversation table (`conversation_id`): random per process,
    /// or derived from the store's key with `[store]` (the same on every replica).
    secret: [u8; 32],
}

struct Pin {
    account: Arc<str>,
    last_used: Instant,
    /// When other replicas last heard of it.
    shared_at: Instant,
}

/// How a request's account was chosen, for the activity log and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Affinity is off.
    Off,
    /// A conversation not seen before (or expired): the strategy placed it.
    New,
    /// Back to the account it was on.
    Kept,
    /// It had to move; why.
    Moved(&'static str),
}

impl Outcome {
    /// The metric label.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Off => "off",
            Outcome::New => "new",
            Outcome::Kept => "kept",
            Outcome::Moved(_) => "moved",
        }
    }

    /// `new`, `kept`, `moved (<why>)`.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Moved(why) => format!("moved ({why})"),
            other => other.label().to_string(),
        }
    }
}

fn cap(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n.max(1)).unwrap_or(NonZeroUsize::MIN)
}

impl Affinity {
    pub fn new(max_conversations: usize, ttl: Duration) -> Affinity {
        let blobs = max_conversations.saturating_mul(BLOBS_PER_CONVERSATION);
        Affinity {
            conversations: Mutex::new(LruCache::new(cap(max_conversations))),
            turn_states: Mutex::new(LruCache::new(cap(blobs))),
            blobs: Mutex::new(LruCache::new(cap(blobs))),
            ttl: Mutex::new(ttl),
            secret: random_secret(),
        }
    }

    /// The same tables keyed by `secret` (every replica of one store uses one).
    pub fn with_secret(mut self, secret: [u8; 32]) -> Affinity {
        self.secret = secret;
        self
    }

    /// The table key of a conversation (`conversation_id` under this table's secret).
    pub fn conversation_key(&self, key: Option<&str>, session_id: &str) -> u64 {
        conversation_id(&self.secret, key, session_id)
    }

    /// New limits from a reload; what fits is kept.
    pub fn resize(&self, max_conversations: usize, ttl: Duration) {
        let blobs = max_conversations.saturating_mul(BLOBS_PER_CONVERSATION);
        lock(&self.conversations).resize(cap(max_conversations));
        lock(&self.turn_states).resize(cap(blobs));
        lock(&self.blobs).resize(cap(blobs));
        *lock(&self.ttl) = ttl;
    }

    /// The account a conversation was last served by, unless it expired.
    pub fn conversation(&self, id: u64, now: Instant) -> Option<Arc<str>> {
        let ttl = *lock(&self.ttl);
        let mut map = lock(&self.conversations);
        let pin = map.get(&id)?;
        if now.saturating_duration_since(pin.last_used) > ttl {
            map.pop(&id);
            return None;
        }
        Some(Arc::clone(&pin.account))
    }

    /// The conversation was served by `account` now. True when other
    /// replicas should hear of it (`store`): the conversation is new here or
    /// moved, or was last shared a quarter of its `ttl` ago.
    pub fn served(&self, id: u64, account: &str, now: Instant) -> bool {
        let quarter = *lock(&self.ttl) / 4;
        let mut map = lock(&self.conversations);
        match map.get_mut(&id) {
            Some(pin) if &*pin.account == account => {
                pin.last_used = now;
                if now.saturating_duration_since(pin.shared_at) >= quarter {
                    pin.shared_at = now;
                    return true;
                }
                false
            }
            _ => {
                map.put(
                    id,
                    Pin {
                        account: account.into(),
                        last_used: now,
                        shared_at: now,
                    },
                );
                true
            }
        }
    }

    /// Another replica served the conversation on `account` (`store`).
    pub fn adopt(&self, id: u64, account: &str, now: Instant) {
        lock(&self.conversations).put(
            id,
            Pin {
                account: account.into(),
                last_used: now,
                shared_at: now,
            },
        );
    }

    /// The tables' `ttl`.
    pub fn ttl(&self) -> Duration {
        *lock(&self.ttl)
    }

    /// How many conversations are remembered.
    pub fn len(&self) -> usize {
        lock(&self.conversations).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The account that minted a turn-state token.
    pub fn turn_state(&self, token: &[u8]) -> Option<Arc<str>> {
        lock(&self.turn_states).get(&digest(token)).cloned()
    }

    pub fn minted(&self, token: &[u8], account: &str) {
        lock(&self.turn_states).put(digest(token), account.into());
    }

    /// The account that produced the encrypted blob with this `digest`.
    pub fn blob_owner(&self, digest: u64) -> Option<Arc<str>> {
        lock(&self.blobs).get(&digest).cloned()
    }

    pub fn produced(&self, blob: &str, account: &str) {
        lock(&self.blobs).put(digest(blob.as_bytes()), account.into());
    }
}

/// A conversation's table key: its session id, within its client key's
/// namespace, keyed by `secret` (SHA-256 of secret ‖ key ‖ 0xff ‖ session,
/// 64 bits). Key names are public (metrics) and derived session ids are
/// predictable, so an unkeyed hash would let one key aim at another key's
/// slot; without the secret no one can.
pub fn conversation_id(secret: &[u8], key: Option<&str>, session_id: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(secret);
    h.update(key.unwrap_or("").as_bytes());
    h.update([0xff]);
    h.update(session_id.as_bytes());
    let d = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    u64::from_le_bytes(first)
}

fn random_secret() -> [u8; 32] {
    let mut s = [0u8; 32];
    // Without randomness the table still works, only unkeyed.
    let _ = getrandom::fill(&mut s);
    s
}

/// A digest of a token or blob (FNV-1a, 64 bits: a table key, not a secret).
pub fn digest(bytes: &[u8]) -> u64 {
    let mut h = Fnv::default();
    h.write(bytes);
    h.0
}

struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversation_keys_depend_on_the_secret() {
        let id = |secret: u8| conversation_id(&[secret; 32], Some("k"), "s");
        assert_ne!(id(1), id(2));
        assert_eq!(id(1), id(1));
        let a = Affinity::new(4, Duration::from_secs(60)).with_secret([7; 32]);
        assert_eq!(a.conversation_key(Some("k"), "s"), id(7));
    }

    #[tokio::test(start_paused = true)]
    async fn conversations_expire_after_their_ttl_since_last_use() {
        let a = Affinity::new(10, Duration::from_secs(60));
        let id = conversation_id(&[0; 32], Some("k"), "s1");
        a.served(id, "acc-a", Instant::now());
        tokio::time::advance(Duration::from_secs(50)).await;
        assert_eq!(a.conversation(id, Instant::now()).as_deref(), Some("acc-a"));
        a.served(id, "acc-a", Instant::now());
        tokio::time::advance(Duration::from_secs(50)).await;
        assert_eq!(
            a.conversation(id, Instant::now()).as_deref(),
            Some("acc-a"),
            "last use restarts the clock"
        );
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(a.conversation(id, Instant::now()), None);
    }

    #[test]
    fn the_table_is_bounded_and_evicts_the_least_recently_used() {
        let a = Affinity::new(2, Duration::from_secs(3600));
        let now = Instant::now();
        for s in ["1", "2", "3"] {
            a.served(conversation_id(&[0; 32], None, s), "x", now);
        }
        assert_eq!(a.len(), 2);
        assert_eq!(
            a.conversation(conversation_id(&[0; 32], None, "1"), now),
            None
        );
        assert!(a
            .conversation(conversation_id(&[0; 32], None, "3"), now)
            .is_some());
    }

    #[test]
    fn keys_namespace_conversations() {
        assert_ne!(
            conversation_id(&[0; 32], Some("alice"), "s"),
            conversation_id(&[0; 32], Some("bob"), "s")
        );
        assert_ne!(
            conversation_id(&[0; 32], Some("a"), "bs"),
            conversation_id(&[0; 32], Some("ab"), "s")
        );
    }

    #[test]
    fn blobs_and_turn_states_remember_their_account() {
        let a = Affinity::new(4, Duration::from_secs(60));
        a.produced("gAAAA-blob", "acc-a");
        a.minted(b"ts-1", "acc-b");
        assert_eq!(
            a.blob_owner(digest(b"gAAAA-blob")).as_deref(),
            Some("acc-a")
        );
        assert_eq!(a.blob_owner(digest(b"other")), None);
        assert_eq!(a.turn_state(b"ts-1").as_deref(), Some("acc-b"));
    }
}
