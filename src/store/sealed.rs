//! Sealed values: secrets (a login's tokens) written to Redis only as
//! `seal::Key::seal` makes them, with their Redis key as associated data,
//! so a value copied under another key does not open. What a value holds is
//! its owner's business (`auth::stored`).

use super::{Error, Redis};

impl Redis {
    /// The value `kind:name`, opened; `None` when there is none.
    pub async fn load_sealed(&self, kind: &str, name: &str) -> Result<Option<Vec<u8>>, Error> {
        let key = self.key(kind, name);
        let raw: Option<Vec<u8>> = self.call(redis::cmd("GET").arg(&key)).await?;
        let Some(raw) = raw else { return Ok(None) };
        self.sealing_key()
            .open(&key, &raw)
            .map(Some)
            .ok_or(Error::Undecryptable)
    }

    /// Writes `plain` as the value `kind:name`, sealed.
    pub async fn save_sealed(&self, kind: &str, name: &str, plain: &[u8]) -> Result<(), Error> {
        let key = self.key(kind, name);
        let sealed = self
            .sealing_key()
            .seal(&key, plain)
            .ok_or(Error::Unavailable)?;
        self.call::<()>(redis::cmd("SET").arg(&key).arg(sealed))
            .await
    }
}
