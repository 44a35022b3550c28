//! Sealed values: the key of `[store] encryption_key_file` and the AEAD
//! (ChaCha20-Poly1305) every secret written to the shared store goes
//! through: a random 96-bit nonce per value, prefixed to the ciphertext, and
//! the value's name (its Redis key) as associated data, so a value copied
//! under another name does not decrypt. Also the keyed digest that lets a
//! replica recognise a token without storing it.
//!
//! A leaf (it imports only `secret`): `config` reads the key while it
//! validates, and `store` seals with it, without either importing the other.
//!
//! The key file holds 32 bytes in base64; like an auth file it must not be
//! readable by group or others. The key never reaches a log (`Debug` hides it).

use std::fmt;
use std::path::Path;

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};

use crate::secret::Secret;

const NONCE_LEN: usize = 12;

/// The 32-byte key of `[store] encryption_key_file`.
#[derive(Clone, PartialEq)]
pub struct Key(Secret<[u8; 32]>);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("seal::Key(*****)")
    }
}

/// Why a key file cannot be used; never quotes the file's contents.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum KeyError {
    #[error("cannot read the key file ({0})")]
    Read(std::io::ErrorKind),
    #[error("the key file has permissions {0:04o}, too open: run `chmod 600` on it")]
    TooOpen(u32),
    #[error(
        "the key file does not hold a base64 32-byte key (make one with `codex-pool store-key`)"
    )]
    Invalid,
}

impl Key {
    /// Reads a key file, refusing one readable by group or others.
    pub fn load(path: &Path) -> Result<Key, KeyError> {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|e| KeyError::Read(e.kind()))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::TooOpen(mode));
        }
        let text = std::fs::read_to_string(path).map_err(|e| KeyError::Read(e.kind()))?;
        Key::parse(&text)
    }

    /// A key from its base64 text.
    pub fn parse(text: &str) -> Result<Key, KeyError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| KeyError::Invalid)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Invalid)?;
        Ok(Key(Secret::new(key)))
    }

    /// A new random key, as base64 text (`codex-pool store-key`).
    pub fn generate() -> Result<String, getrandom::Error> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)?;
        Ok(base64::engine::general_purpose::STANDARD.encode(key))
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(&(*self.0.expose()).into())
    }

    /// Encrypts `plain` for the Redis key `aad`: nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, aad: &str, plain: &[u8]) -> Option<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).ok()?;
        let sealed = self
            .cipher()
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plain,
                    aad: aad.as_bytes(),
                },
            )
            .ok()?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Some(out)
    }

    /// Decrypts what `seal` made for `aad`; `None` for anything else (another
    /// key, another Redis key, tampered bytes).
    pub fn open(&self, aad: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        self.cipher()
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: body,
                    aad: aad.as_bytes(),
                },
            )
            .ok()
    }

    /// A keyed digest of a token (to recognise it without storing it).
    /// A secret for another use, derived from this key (SHA-256 of the key
    /// and `label`): the same on every replica that shares the key file.
    pub fn derive(&self, label: &[u8]) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(label);
        h.update(self.0.expose());
        h.finalize().into()
    }

    pub fn digest(&self, token: &str) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(self.0.expose());
        h.update(token.as_bytes());
        hex::encode(&h.finalize()[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key::parse(&Key::generate().unwrap()).unwrap()
    }

    #[test]
    fn sealed_values_open_only_with_their_key_and_name() {
        let k = key();
        let sealed = k.seal("p:tokens:a", b"secret").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(k.open("p:tokens:a", &sealed).unwrap(), b"secret");
        assert!(k.open("p:tokens:b", &sealed).is_none());
        assert!(key().open("p:tokens:a", &sealed).is_none());
        assert!(k.open("p:tokens:a", &sealed[..5]).is_none());
    }

    #[test]
    fn a_key_is_32_bytes_of_base64_and_hidden_in_debug() {
        assert_eq!(Key::parse("c2hvcnQ="), Err(KeyError::Invalid));
        assert_eq!(Key::parse("not base64!"), Err(KeyError::Invalid));
        assert_eq!(format!("{:?}", key()), "seal::Key(*****)");
    }

    #[test]
    fn a_readable_key_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        std::fs::write(&p, Key::generate().unwrap()).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(Key::load(&p), Err(KeyError::TooOpen(0o644)));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(Key::load(&p).is_ok());
    }
}
