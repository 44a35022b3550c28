//! Conversation affinity across replicas: `conv:<id>` names the account a
//! conversation was last served by, expiring `affinity.ttl` after it was
//! last shared. The id is the table key of `pool::pins` (a digest of
//! the client key's name and the session id, never the client's text).
//! Each replica keeps its own table in front of it (`affinity::Affinity`):
//! the store is asked on a miss, and told when a conversation is new, moved,
//! or was last told a quarter of its ttl ago. Turn-state tokens and blob
//! owners stay per replica.

use std::time::Duration;

use super::{Error, Redis};

impl Redis {
    /// The account another replica served the conversation `id` on.
    pub async fn conversation(&self, id: u64) -> Result<Option<String>, Error> {
        self.call(redis::cmd("GET").arg(self.key("conv", &format!("{id:016x}"))))
            .await
    }

    /// The conversation `id` is on `account` now.
    pub async fn pin_conversation(
        &self,
        id: u64,
        account: &str,
        ttl: Duration,
    ) -> Result<(), Error> {
        self.call::<()>(
            redis::cmd("SET")
                .arg(self.key("conv", &format!("{id:016x}")))
                .arg(account)
                .arg("PX")
                .arg(ttl.as_millis().max(1) as u64),
        )
        .await
    }
}
