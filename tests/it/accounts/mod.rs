//! Accounts: token refresh against the mock issuer, the auth files the
//! gateway shares with other programs, login and import, client keys, and
//! solo mode.

mod auth_files;
mod import;
mod login;
mod refresh;
mod solo;
mod team;

use crate::support::{access_token, Builder, Gateway, Login, Mock};

/// Accounts `a`, whose access token (tagged `old`) expires in `secs` with
/// refresh token `rt-original`, and `b`, valid for an hour.
fn expiring(mock: &Mock, secs: i64) -> Builder {
    Gateway::builder(mock)
        .account("a")
        .login(Login::token(&access_token("old", secs)).refresh_token("rt-original"))
        .account("b")
}
