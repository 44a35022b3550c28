//! Logins the gateway under test serves: what one account's `auth.json`
//! holds, written before the gateway starts (the mock's login writer).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::mock;

/// An access token (JWT) tagged `tag` that expires `secs` from now.
pub fn access_token(tag: &str, secs: i64) -> String {
    mock::login::access_token(tag, secs)
}

/// Writes a Codex `auth.json` (mode 0600) whose account id is `account_id`.
pub fn write_auth(path: &Path, account_id: &str, access: &str, refresh: &str) {
    mock::login::write(path, account_id, access, refresh)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// One account's login: by default an access token valid for an hour, the
/// refresh token `rt-<account>`, the account id the account's name, mode 0600.
/// The token is minted when the builder takes the login, so every replica
/// built from one builder holds the same one.
#[derive(Clone, Debug, Default)]
pub struct Login {
    expires_in: Option<i64>,
    access: Option<String>,
    refresh: Option<String>,
    account_id: Option<String>,
    mode: Option<u32>,
}

/// A login made concrete for one account.
#[derive(Clone, Debug)]
pub(crate) struct Minted {
    pub account_id: String,
    pub access: String,
    pub refresh: String,
    pub mode: u32,
}

impl Login {
    /// An access token that expires `secs` from now.
    pub fn expires_in(secs: i64) -> Login {
        Login {
            expires_in: Some(secs),
            ..Login::default()
        }
    }

    /// This access token.
    pub fn token(access: &str) -> Login {
        Login {
            access: Some(access.to_string()),
            ..Login::default()
        }
    }

    pub fn refresh_token(mut self, refresh: &str) -> Login {
        self.refresh = Some(refresh.to_string());
        self
    }

    pub fn account_id(mut self, id: &str) -> Login {
        self.account_id = Some(id.to_string());
        self
    }

    /// The file's mode (0600 unless said).
    pub fn mode(mut self, mode: u32) -> Login {
        self.mode = Some(mode);
        self
    }

    pub(crate) fn mint(&self, account: &str) -> Minted {
        Minted {
            account_id: self.account_id.clone().unwrap_or_else(|| account.into()),
            access: self
                .access
                .clone()
                .unwrap_or_else(|| access_token(account, self.expires_in.unwrap_or(3600))),
            refresh: self
                .refresh
                .clone()
                .unwrap_or_else(|| format!("rt-{account}")),
            mode: self.mode.unwrap_or(0o600),
        }
    }

    /// Writes this login for `account` to `path`.
    pub fn write(&self, path: &Path, account: &str) {
        self.mint(account).write(path);
    }
}

impl Minted {
    pub fn write(&self, path: &Path) {
        write_auth(path, &self.account_id, &self.access, &self.refresh);
        if self.mode != 0o600 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(self.mode)).unwrap();
        }
    }
}
