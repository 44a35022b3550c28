//! Conversation affinity, the one API the request path calls: once to place
//! a request (`Affinity::conversation`, `recall`, `preferred`, then the body
//! and token each account may be sent), once to record what an answer taught
//! (`served`, `observe`, `observe_frame`). Behind it: this replica's tables
//! (`pool::pins`) and, with `[store]`, the conversations other replicas
//! served (`store::Redis`, asked only on a miss here).
//!
//! In order: a turn-state token goes back to the account that minted it (a
//! hard pin); under `round_robin` a conversation then prefers the account
//! that owns its encrypted blobs, then the one it was last served by (soft:
//! only while that account is usable). Under `primary_first` and
//! `priority_order` the strategy's order wins over soft affinity — spending
//! the first account first is their point — so a conversation that moved
//! while the primary was out moves back when it recovers.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;
use tokio::time::Instant;

use crate::config::{AffinityConfig, Config, Strategy};
pub use crate::pool::pins::Outcome;
use crate::pool::pins::{digest, Affinity as Tables};
use crate::store::Redis;
use crate::translate::blobs;
use crate::upstream::events::Event;

/// The per-turn routing token the backend mints (`docs/upstream.md` §8).
pub const TURN_STATE: &str = "x-codex-turn-state";

/// Which account each conversation, turn-state token and encrypted blob is on.
pub struct Affinity {
    tables: Tables,
    store: Option<Arc<Redis>>,
}

/// A request's place in its conversation: what placement asks about it.
#[derive(Debug, Clone, Default)]
pub struct Conversation {
    /// The conversation, within its key's namespace (`pool::pins`).
    pub id: u64,
    /// Digests of the encrypted blobs the body carries.
    pub blobs: Vec<u64>,
    /// The client's `x-codex-turn-state`, if it sent one.
    pub turn_state: Option<String>,
}

impl Conversation {
    /// The same conversation with another body: its blobs worked out again,
    /// without a turn-state token.
    pub fn rebodied(&self, body: &Value) -> Conversation {
        Conversation {
            id: self.id,
            blobs: blob_digests(body),
            turn_state: None,
        }
    }
}

/// Why a conversation prefers an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    TurnState,
    Blobs,
    Conversation,
}

impl Affinity {
    /// The tables for `config`, keyed (with `[store]`) by the secret every
    /// replica of one store derives alike.
    pub fn new(config: &Config, store: Option<Arc<Redis>>) -> Affinity {
        let a = &config.affinity;
        let mut tables = Tables::new(a.max_conversations, a.ttl);
        if let Some(s) = &config.store {
            tables = tables.with_secret(s.key.derive(b"codex-pool affinity table"));
        }
        Affinity { tables, store }
    }

    /// New limits from a reload; what fits is kept.
    pub fn resize(&self, config: &AffinityConfig) {
        self.tables.resize(config.max_conversations, config.ttl);
    }

    /// The conversation a request `body` belongs to: its session within the
    /// key's namespace, the blobs it carries, the turn-state token it came with.
    pub fn conversation(
        &self,
        key: Option<&str>,
        session_id: &str,
        body: &Value,
        turn_state: Option<String>,
    ) -> Conversation {
        Conversation {
            id: self.tables.conversation_key(key, session_id),
            blobs: blob_digests(body),
            turn_state,
        }
    }

    /// The account this replica last served the session by, unless it expired.
    pub fn last_account(&self, key: Option<&str>, session_id: &str) -> Option<Arc<str>> {
        let id = self.tables.conversation_key(key, session_id);
        self.tables.conversation(id, Instant::now())
    }

    /// With a shared store: a conversation this replica does not know may be
    /// another replica's; ask the store (one round trip, only on a miss here).
    pub async fn recall(&self, c: &Conversation) {
        let Some(shared) = self.store.as_ref().filter(|s| s.is_up()) else {
            return;
        };
        let now = Instant::now();
        if self.tables.conversation(c.id, now).is_some() {
            return;
        }
        if let Ok(Some(account)) = shared.conversation(c.id).await {
            self.tables.adopt(c.id, &account, now);
        }
    }

    /// The account the conversation should go to, if it has one, and why
    /// (`enabled`: the request's own snapshot's `affinity.enabled`).
    pub fn preferred(
        &self,
        c: &Conversation,
        strategy: Strategy,
        enabled: bool,
    ) -> Option<(Arc<str>, Reason)> {
        if !enabled {
            return None;
        }
        if let Some(a) = c.turn_state.as_deref().and_then(|t| self.minter(t)) {
            return Some((a, Reason::TurnState));
        }
        if strategy != Strategy::RoundRobin {
            return None;
        }
        if let Some(a) = c
            .blobs
            .iter()
            .rev()
            .find_map(|d| self.tables.blob_owner(*d))
        {
            return Some((a, Reason::Blobs));
        }
        self.tables
            .conversation(c.id, Instant::now())
            .map(|a| (a, Reason::Conversation))
    }

    /// The body `account` may be sent: without the blobs another account
    /// produced (`all`: without every blob, after upstream refused one
    /// anyway), and how many were removed. `None`: the body as it is.
    pub fn body_for(
        &self,
        c: &Conversation,
        body: &Bytes,
        account: &str,
        all: bool,
    ) -> Option<(Bytes, usize)> {
        if c.blobs.is_empty() {
            return None;
        }
        let foreign = |d: u64| {
            all || self
                .tables
                .blob_owner(d)
                .is_some_and(|owner| *owner != *account)
        };
        if !c.blobs.iter().any(|d| foreign(*d)) {
            return None;
        }
        let mut body: Value = serde_json::from_slice(body).ok()?;
        let removed = blobs::strip(&mut body, |b| !foreign(digest(b.as_bytes())));
        let bytes = serde_json::to_vec(&body).ok()?;
        Some((Bytes::from(bytes), removed))
    }

    /// The conversation's turn-state token, if `account` may be sent it:
    /// only the account that minted one takes it back (another would refuse
    /// it; the request then goes without it, `docs/upstream.md` §8).
    pub fn turn_state_for<'c>(&self, c: &'c Conversation, account: &str) -> Option<&'c str> {
        let t = c.turn_state.as_deref()?;
        self.minter(t).is_some_and(|m| *m == *account).then_some(t)
    }

    /// Whether the conversation carries a turn-state token `account` did not mint.
    pub fn foreign_turn_state(&self, c: &Conversation, account: &str) -> bool {
        c.turn_state
            .as_deref()
            .is_some_and(|t| self.minter(t).is_none_or(|m| *m != *account))
    }

    /// What an answer teaches: the conversation is on `account` now, and a
    /// turn-state token it `minted` belongs to it. With a shared store, the
    /// other replicas hear of the conversation's account when that is news.
    pub async fn served(&self, c: &Conversation, account: &str, minted: Option<&[u8]>) {
        let news = self.tables.served(c.id, account, Instant::now());
        if let Some(t) = minted {
            self.tables.minted(t, account);
        }
        if !news {
            return;
        }
        if let Some(shared) = self.store.as_ref().filter(|s| s.is_up()) {
            let _ = shared
                .pin_conversation(c.id, account, self.tables.ttl())
                .await;
        }
    }

    /// An upstream event, before or after the first byte: an encrypted blob
    /// in it belongs to the account that sent it.
    pub fn observe(&self, event: &Event<'_>, account: &str) {
        if let Some(blob) = blobs::in_event(event) {
            self.tables.produced(&blob, account);
        }
    }

    /// An upstream WebSocket frame: an encrypted blob's owner, a turn-state
    /// token's minter (`response.metadata`).
    pub fn observe_frame(&self, text: &str, account: &str) {
        if let Ok(event) = Event::parse(text) {
            self.observe(&event, account);
        }
        if !text.contains("response.metadata") {
            return;
        }
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            return;
        };
        if v["type"] == "response.metadata" {
            if let Some(t) = v["headers"][TURN_STATE].as_str() {
                self.tables.minted(t.as_bytes(), account);
            }
        }
    }

    fn minter(&self, token: &str) -> Option<Arc<str>> {
        self.tables.turn_state(token.as_bytes())
    }
}

/// How the request was placed, given its preference and whether the plan
/// could put that account first.
pub fn outcome(enabled: bool, preferred: Option<Reason>, kept: bool) -> Outcome {
    match (enabled, preferred, kept) {
        (false, _, _) => Outcome::Off,
        (true, None, _) => Outcome::New,
        (true, Some(_), true) => Outcome::Kept,
        (true, Some(reason), false) => Outcome::Moved(match reason {
            Reason::TurnState => "the account that minted its turn-state cannot serve",
            Reason::Blobs => "the account that owns its encrypted content cannot serve",
            Reason::Conversation => "its account cannot serve",
        }),
    }
}

/// The digests of the encrypted blobs a request body carries.
fn blob_digests(body: &Value) -> Vec<u64> {
    blobs::in_request(body)
        .into_iter()
        .map(|b| digest(b.as_bytes()))
        .collect()
}
