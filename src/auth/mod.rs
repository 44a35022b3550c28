//! ChatGPT OAuth accounts: JWT claims, the `auth.json` token store, refresh.
//!
//! Login flows (browser PKCE, device code) and the account commands live in
//! `crate::cli`; what they write is what `store` reads.

pub mod jwt;
pub mod refresh;
pub mod store;

/// The Codex CLI's OAuth client id.
pub const CLIENT_ID: &str = "app_EMoamEEZ73f0CkXaXp7hrann";
