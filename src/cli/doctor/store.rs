//! `[store]`: Redis answers, and the encryption key opens what is sealed
//! there (each account's login, `auth::stored`). A replica with another key
//! renews nothing for the logins it cannot open, so a wrong key is ✗ here
//! rather than a surprise at the next refresh. Only reads: nothing is
//! written to the store unless `--refresh` asks for it (`logins.rs`).
//!
//! The Redis URL may hold a password: it is shown without it.

use std::sync::Arc;
use std::time::Instant;

use super::report::{Check, Report};
use crate::auth::stored::Entry;
use crate::config::{Config, StoreConfig};
use crate::store::{self, Redis};

/// The shared store as the doctor found it.
pub(super) enum Shared {
    /// No `[store]`: all state is the process's own.
    Off,
    /// Reachable, and its key opens what is stored.
    Up(Arc<Redis>),
    /// Configured but unusable (unreachable, or another key).
    Broken,
}

pub(super) async fn check(cfg: &Config, r: &mut Report) -> Shared {
    let Some(sc) = &cfg.store else {
        return Shared::Off;
    };
    let shown = redacted(sc.redis_url.expose());
    let redis = match Redis::new(sc) {
        Ok(s) => s,
        Err(e) => {
            r.push(Check::bad(
                "store",
                &format!("{shown} cannot be used ({:?})", e.kind()),
                "fix store.redis_url",
            ));
            return Shared::Broken;
        }
    };
    redis.connect();
    let started = Instant::now();
    // The first call also connects: one more try before calling it down.
    let up = redis.ping().await || redis.ping().await;
    if !up {
        r.push(Check::bad(
            "store",
            &format!("{shown} does not answer"),
            "start Redis, or fix store.redis_url (host, port, password, TLS) or the firewall",
        ));
        return Shared::Broken;
    }
    r.push(Check::good(
        "store",
        &format!("{shown} answers ({} ms)", started.elapsed().as_millis()),
    ));
    match key(cfg, sc, &redis).await {
        Ok(line) => {
            r.push(Check::good("store key", &line));
            Shared::Up(redis)
        }
        Err(check) => {
            r.push(check);
            Shared::Broken
        }
    }
}

/// Whether the key opens each account's sealed login.
async fn key(cfg: &Config, sc: &StoreConfig, redis: &Redis) -> Result<String, Check> {
    let (mut opened, mut closed) = (Vec::new(), Vec::new());
    for a in &cfg.accounts {
        match Entry::load(redis, &a.name).await {
            Ok(Some(_)) => opened.push(a.name.as_str()),
            Ok(None) => {}
            Err(store::Error::Undecryptable) => closed.push(a.name.as_str()),
            Err(store::Error::Unavailable) => {
                return Err(Check::bad(
                    "store key",
                    "the store stopped answering while its values were read",
                    "check Redis and try again",
                ))
            }
        }
    }
    let file = sc.key_file.display();
    if !closed.is_empty() {
        return Err(Check::bad(
            "store key",
            &format!(
                "store key cannot open stored values: {file} does not open the logins stored for {}",
                closed.join(", ")
            ),
            "give every replica sharing this Redis the same store.encryption_key_file",
        ));
    }
    Ok(if opened.is_empty() {
        "no login is stored yet (a gateway's first sync seals them)".into()
    } else {
        format!("{file} opens the logins stored for {}", opened.join(", "))
    })
}

/// `url` without its password (or a user name that may be one).
fn redacted(url: &str) -> String {
    let Ok(mut u) = url::Url::parse(url) else {
        return "store.redis_url".into();
    };
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    } else if !u.username().is_empty() {
        let _ = u.set_username("***");
    }
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redis_url_is_shown_without_its_password() {
        let shown = redacted("redis://user:hunter2@10.0.0.5:6379/0");
        assert_eq!(shown, "redis://user:***@10.0.0.5:6379/0");
        assert_eq!(
            redacted("rediss://hunter2@r.example:6380/1"),
            "rediss://***@r.example:6380/1"
        );
        assert_eq!(
            redacted("redis://127.0.0.1:6379/0"),
            "redis://127.0.0.1:6379/0"
        );
        assert!(!redacted("redis://:hunter2@h/0").contains("hunter2"));
    }
}
