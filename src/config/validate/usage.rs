//! `[usage]` (the usage store's file and retention) and `[log] access` (the
//! access log's destination and rotation).

use std::path::Path;
use std::time::Duration;

use super::sections::resolve;
use super::Validator;
use crate::config::raw::{RawLog, RawUsage};
use crate::config::{AccessLogConfig, UsageConfig};

/// The usage store's file name beside the config when `[usage] path` is unset.
pub(crate) const DEFAULT_USAGE_FILE: &str = "usage.db";

/// An access log file is rotated past this size unless `access_max_bytes` says.
const DEFAULT_ACCESS_MAX_BYTES: u64 = 64 * 1024 * 1024;

impl Validator {
    pub(super) fn usage(
        &mut self,
        raw: RawUsage,
        base: &Path,
        from_file: bool,
        d: UsageConfig,
    ) -> UsageConfig {
        let retention = self.duration("usage.retention", raw.retention, d.retention);
        if retention < Duration::from_secs(3600) {
            self.problem("usage.retention", "must be at least an hour");
        }
        let path = match (raw.enabled.unwrap_or(true), raw.path) {
            (false, _) => None,
            (true, Some(p)) if p.trim().is_empty() => {
                self.problem("usage.path", "must not be empty");
                None
            }
            (true, Some(p)) => Some(resolve(base, &p)),
            (true, None) => from_file.then(|| base.join(DEFAULT_USAGE_FILE)),
        };
        UsageConfig { path, retention }
    }

    pub(super) fn access_log(&mut self, raw: &RawLog, base: &Path) -> Option<AccessLogConfig> {
        let Some(to) = raw.access.as_deref() else {
            if raw.access_max_bytes.is_some() || raw.access_keep.is_some() {
                self.problem(
                    "log.access",
                    "is required when [log] sets access_max_bytes or access_keep",
                );
            }
            return None;
        };
        let path = match to.trim() {
            "" => {
                self.problem("log.access", "must be a file path or \"stdout\"");
                return None;
            }
            "stdout" => None,
            p => Some(resolve(base, p)),
        };
        let max_bytes = self.positive(
            "log.access_max_bytes",
            raw.access_max_bytes,
            DEFAULT_ACCESS_MAX_BYTES,
        );
        let keep = match raw.access_keep {
            None => 3,
            Some(n) => u32::try_from(n.min(100)).unwrap_or(100),
        };
        Some(AccessLogConfig {
            path,
            max_bytes,
            keep,
        })
    }
}
