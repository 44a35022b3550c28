//! The open-file limit against `server.max_connections`.
//!
//! Every client connection is a file descriptor, and a streaming one holds a
//! second (its upstream connection). A cap above what `RLIMIT_NOFILE` allows
//! never answers its fast 503: `accept` fails with EMFILE first, and the
//! client gets nothing. So at start the soft limit is raised to the hard one,
//! and what remains short lowers the cap, said once.

/// Descriptors kept for everything but client connections: listeners, auth
/// files, Redis, the log, reloads.
const RESERVE: u64 = 64;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit, once at start; gives
/// the soft limit in force afterwards (`None`: unlimited or unknown).
pub(crate) fn raise() -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let now = getrlimit(Resource::Nofile);
        let soft = now.current?;
        if now.maximum.is_none_or(|hard| hard > soft) {
            let raised = Rlimit {
                current: now.maximum,
                maximum: now.maximum,
            };
            match setrlimit(Resource::Nofile, raised) {
                Ok(()) => {
                    tracing::info!(from = soft, to = ?now.maximum, "raised the open-file limit (RLIMIT_NOFILE) to its hard limit");
                }
                Err(e) => {
                    tracing::debug!(error = %e, "could not raise the open-file limit");
                }
            }
        }
        getrlimit(Resource::Nofile).current
    }
    #[cfg(not(unix))]
    None
}

/// The soft `RLIMIT_NOFILE` now (`None`: unlimited or unknown).
pub(crate) fn soft_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    None
}

/// The connection cap the open-file limit `soft` can hold: each connection
/// may pair with an upstream one, and `RESERVE` stays free.
pub(crate) fn connection_cap(configured: usize, soft: Option<u64>) -> usize {
    let Some(soft) = soft else {
        return configured;
    };
    let fits = soft.saturating_sub(RESERVE) / 2;
    let fits = usize::try_from(fits).unwrap_or(usize::MAX).max(1);
    configured.min(fits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_fits_the_open_file_limit() {
        assert_eq!(connection_cap(4096, Some(1024)), 480);
        assert_eq!(connection_cap(4096, Some(1 << 20)), 4096);
        assert_eq!(connection_cap(4096, None), 4096);
        assert_eq!(connection_cap(10, Some(8)), 1);
    }
}
