//! The writer's blocking half: folds a batch of records into rollups, adds
//! them to SQLite in one transaction, prunes past the retention, and writes
//! the batch's access-log lines. What SQLite did not take stays pending and
//! is added with the next batch, so a failed write is retried, not lost.
//!
//! The async loop that feeds it (and adds to Redis) is `background/usage.rs`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::access::AccessLog;
use super::db::Db;
use super::{Counts, Record, Slot};
use crate::config::{AccessLogConfig, UsageConfig};

/// How often rollups past the retention are deleted.
const PRUNE_EVERY: i64 = 3600;

pub struct Writer {
    path: Option<PathBuf>,
    retention: Duration,
    db: Option<Db>,
    access: Option<AccessLog>,
    pending: HashMap<Slot, Counts>,
    pruned_at: i64,
}

/// What one flush could not do (each is counted and retried or reported).
#[derive(Debug, Default)]
pub struct Report {
    pub sqlite: Option<String>,
    pub access_log: Option<String>,
}

/// Adds a batch's rollups into `into`.
pub fn fold(into: &mut HashMap<Slot, Counts>, records: &[Arc<Record>]) {
    for r in records {
        let (slot, counts) = r.rollup();
        into.entry(slot).or_default().add(&counts);
    }
}

impl Writer {
    /// A writer for `usage` and `access`; `db` is the database already opened
    /// at start (budgets read it), if it opened.
    pub fn new(usage: &UsageConfig, access: Option<AccessLogConfig>, db: Option<Db>) -> Writer {
        Writer {
            path: usage.path.clone(),
            retention: usage.retention,
            db,
            access: access.map(AccessLog::new),
            pending: HashMap::new(),
            pruned_at: 0,
        }
    }

    /// Rollups not yet in SQLite.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Writes `records` (and whatever is pending) to every sink.
    pub fn flush(&mut self, records: &[Arc<Record>], now: i64) -> Report {
        let mut report = Report::default();
        if let Some(log) = &mut self.access {
            if !records.is_empty() {
                report.access_log = log.write(records).err().map(|e| e.to_string());
            }
        }
        let Some(path) = &self.path else {
            return report;
        };
        fold(&mut self.pending, records);
        if self.db.is_none() {
            match Db::open(path) {
                Ok(db) => self.db = Some(db),
                Err(e) => {
                    report.sqlite = Some(format!("{}: {e}", path.display()));
                    return report;
                }
            }
        }
        let Some(db) = &mut self.db else {
            return report;
        };
        if !self.pending.is_empty() {
            match db.add(&self.pending) {
                Ok(()) => self.pending.clear(),
                Err(e) => report.sqlite = Some(e.to_string()),
            }
        }
        if now - self.pruned_at >= PRUNE_EVERY {
            let keep = i64::try_from(self.retention.as_secs()).unwrap_or(i64::MAX);
            if db.prune(now.saturating_sub(keep)).is_ok() {
                self.pruned_at = now;
            }
        }
        report
    }
}
