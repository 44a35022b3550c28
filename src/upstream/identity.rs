//! Which Codex version the gateway says it is (`version`, `User-Agent`).
//!
//! With `[upstream] client_version = "auto"` (the default) the version sent
//! is the newest of `VERSION_FLOOR`, built into the binary, and the highest
//! version learned since start: the catalog's `minimal_client_version`s (it
//! is fetched ungated, `catalog::UNGATED_CLIENT_VERSION`), the `version` of
//! Codex CLIs passing through the native route, and the version a
//! "requires a newer version of Codex" refusal's model needs. A version
//! written in the config is sent as it is and never moves.
//!
//! Owned by `App` (it outlives a reload); every `upstream::Client` reads it.

use std::sync::Arc;

use arc_swap::ArcSwap;
use http::HeaderValue;

/// The newest Codex CLI release this build knows (2026-11-20).
pub const VERSION_FLOOR: &str = "0.171.0";

/// The config value that lets the version follow the backend.
pub use crate::config::AUTO_CLIENT_VERSION as AUTO;
pub use crate::version::Version;

/// A learned version is believed only this many minor releases past the
/// floor: a client on the native route cannot make every request claim to be
/// Codex 99.0.
const MAX_MINOR_AHEAD: u64 = 60;

/// The headers one version makes.
#[derive(Debug)]
pub struct Sent {
    pub version: Version,
    pub version_header: HeaderValue,
    pub user_agent: HeaderValue,
}

impl Sent {
    fn new(version: Version, ua_tail: &str) -> Sent {
        let ua = format!("{}/{version} {ua_tail}", super::ORIGINATOR);
        Sent {
            version,
            version_header: HeaderValue::from_str(&version.to_string())
                .unwrap_or_else(|_| HeaderValue::from_static("0.0.0")),
            user_agent: HeaderValue::from_str(&ua)
                .unwrap_or_else(|_| HeaderValue::from_static(super::ORIGINATOR)),
        }
    }
}

/// The version the gateway presents, and what it learned.
#[derive(Debug)]
pub struct Identity {
    current: ArcSwap<Sent>,
    /// `(<os> <release>; <arch>) codex-pool/<version>`, read once.
    ua_tail: String,
}

impl Default for Identity {
    fn default() -> Identity {
        Identity::new()
    }
}

impl Identity {
    pub fn new() -> Identity {
        let ua_tail = super::user_agent("")
            .split_once(' ')
            .map(|(_, t)| t.to_string())
            .unwrap_or_default();
        let floor = Version::parse(VERSION_FLOOR).unwrap_or(Version(0, 0, 0));
        Identity {
            current: ArcSwap::from_pointee(Sent::new(floor, &ua_tail)),
            ua_tail,
        }
    }

    /// The headers to send with `auto`.
    pub fn current(&self) -> Arc<Sent> {
        self.current.load_full()
    }

    /// The headers for an explicit `client_version` (`None` for `auto`).
    pub fn fixed(&self, client_version: &str) -> Option<Sent> {
        if client_version == AUTO {
            return None;
        }
        let v = Version::parse(client_version)?;
        Some(Sent::new(v, &self.ua_tail))
    }

    /// Takes `seen` as the version to send if it is newer than the current
    /// one (and believable); `source` says where it was seen, for the log.
    /// True when the version moved.
    pub fn learn(&self, seen: &str, source: &'static str) -> bool {
        let Some(v) = Version::parse(seen) else {
            return false;
        };
        let floor = Version::parse(VERSION_FLOOR).unwrap_or(Version(0, 0, 0));
        if v.0 != floor.0 || v.1 > floor.1 + MAX_MINOR_AHEAD {
            tracing::debug!(version = %v, source, "not believing a Codex version this far from the built-in one");
            return false;
        }
        let mut moved = false;
        self.current.rcu(|cur| {
            moved = v > cur.version;
            if moved {
                Arc::new(Sent::new(v, &self.ua_tail))
            } else {
                Arc::clone(cur)
            }
        });
        if moved {
            tracing::info!(version = %v, source, "sending a newer Codex version from now on");
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_only_moves_up_and_within_reason() {
        let id = Identity::new();
        assert_eq!(id.current().version.to_string(), VERSION_FLOOR);
        assert!(!id.learn("0.166.0", "catalog"), "older than the floor");
        assert!(id.learn("0.190.0", "catalog"));
        assert_eq!(id.current().version_header, "0.190.0");
        assert!(id
            .current()
            .user_agent
            .to_str()
            .unwrap()
            .starts_with("codex_cli_rs/0.190.0 ("));
        assert!(!id.learn("0.180.0", "native"));
        assert!(!id.learn("0.999.0", "native"), "too far ahead");
        assert!(!id.learn("7.0.0", "native"));
        assert!(id.fixed(AUTO).is_none());
        assert_eq!(id.fixed("0.150.1").unwrap().version_header, "0.150.1");
    }
}
