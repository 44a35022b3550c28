//! ChatGPT OAuth accounts: JWT claims, the `auth.json` file (`file`), the lock
//! every writer of a login takes (`lock`), a login's token state (`slot`), its
//! single-flight refresh (`refresh`, counted in `flights` for shutdown), and
//! how refreshed tokens reach the file without clobbering a newer login
//! (`persist`); with a shared store, which login is newer and what a
//! replica keeps about its own (`mirror`).
//!
//! `login` has the login flows (browser PKCE, device code) and where a login
//! is stored; the account commands around them live in `crate::cli`. What they
//! write is what `file` reads.

pub mod file;
pub mod flights;
pub mod jwt;
pub mod lock;
pub mod login;
pub mod mirror;
pub mod persist;
pub mod refresh;
pub mod slot;
pub mod stored;

/// The Codex CLI's OAuth client id.
pub const CLIENT_ID: &str = "app_EMoamEEZ73f0CkXaXp7hrann";

/// The `originator` the Codex CLI uses for its Rust client: the login's
/// `originator` parameter, and (`upstream`) the header of that name and the
/// start of the `User-Agent`. The gateway presents itself as that client
/// everywhere, so the identity lives here, beside `CLIENT_ID`.
pub const ORIGINATOR: &str = "codex_cli_rs";
