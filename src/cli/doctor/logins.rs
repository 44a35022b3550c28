//! The accounts' logins: readable, expiry, a refresh token present.

use super::report::{Check, Report};
use crate::auth::file::{self, Credentials};
use crate::config::Config;

/// An account whose login could be read.
pub(super) struct Usable {
    pub name: String,
    pub enabled: bool,
    pub creds: Credentials,
}

/// Each account's login, one line each; the ones that can be used.
pub(super) fn read(cfg: &Config, r: &mut Report) -> Vec<Usable> {
    let mut usable = Vec::new();
    let now = crate::clock::unix_now();
    for a in &cfg.accounts {
        let name = format!("login {}", a.name);
        let relogin = format!("codex-pool login --account {}", a.name);
        match file::load_credentials(&a.auth_file) {
            Err(e) => r.push(Check::bad(&name, &e.to_string(), &relogin)),
            Ok((_, c)) if c.refresh_token.expose().is_empty() => {
                r.push(Check::bad(&name, "no refresh token", &relogin));
            }
            Ok((_, c)) => {
                let expiry = match c.expires_at {
                    Some(t) if t > now => format!("access token expires in {} min", (t - now) / 60),
                    Some(_) => "access token expired (the refresh token renews it)".into(),
                    None => "access token expiry unreadable".into(),
                };
                let plan = c.plan.clone().unwrap_or_else(|| "unknown".into());
                let off = if a.enabled { "" } else { " (account disabled)" };
                r.push(Check::good(
                    &name,
                    &format!("readable, plan {plan}, {expiry}, refresh token present{off}"),
                ));
                usable.push(Usable {
                    name: a.name.clone(),
                    enabled: a.enabled,
                    creds: c,
                });
            }
        }
    }
    usable
}
