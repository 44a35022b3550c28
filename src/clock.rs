//! Wall-clock helpers: unix seconds and RFC 3339 text.
//!
//! A leaf: it imports nothing from the crate, so every layer may use it.
//! Durations and cooldowns use tokio's clock instead (tests pause it); this is
//! only for times shown to people, written to files, or read from upstream.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Now, in unix seconds.
pub(crate) fn unix_now() -> i64 {
    unix(SystemTime::now())
}

/// Now, in unix milliseconds (times other replicas read, `pool::replicas`).
pub(crate) fn unix_millis_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A time in unix seconds; times before 1970 are 0.
pub(crate) fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Unix seconds as a time; values past the year 9999 are clamped there.
pub(crate) fn from_unix(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs.clamp(0, 253_402_300_799) as u64)
}

/// `t` as RFC 3339 text to the second; a time past the year 9999 (which the
/// formatter refuses with a panic) is shown as the last second of 9999.
pub(crate) fn rfc3339_seconds(t: SystemTime) -> String {
    let t = t.min(from_unix(i64::MAX));
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Now, as RFC 3339 text with milliseconds: what Codex writes into
/// `last_refresh`, and what logs and the activity view show.
pub(crate) fn rfc3339_now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_past_9999_formats_without_a_panic() {
        let far = UNIX_EPOCH + Duration::from_secs(300_000_000_000);
        assert_eq!(rfc3339_seconds(far), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn unix_round_trips_and_clamps() {
        assert_eq!(unix(from_unix(1_900_000_000)), 1_900_000_000);
        assert_eq!(unix(from_unix(-5)), 0);
        assert_eq!(unix(from_unix(i64::MAX)), 253_402_300_799);
    }

    #[test]
    fn rfc3339_now_reads_back() {
        let text = rfc3339_now();
        assert!(humantime::parse_rfc3339(&text).is_ok(), "{text}");
    }
}
