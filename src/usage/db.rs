//! The usage rollups in SQLite: one file, WAL mode (a crash loses at most the
//! batch being written, never the file), one row per (hour, key, account,
//! model, route, code), written in one transaction per batch.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags};

use super::{Counts, Slot};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS usage_hourly (
    hour INTEGER NOT NULL,
    key TEXT NOT NULL,
    account TEXT NOT NULL,
    model TEXT NOT NULL,
    route TEXT NOT NULL,
    code TEXT NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    input INTEGER NOT NULL DEFAULT 0,
    cached INTEGER NOT NULL DEFAULT 0,
    output INTEGER NOT NULL DEFAULT 0,
    reasoning INTEGER NOT NULL DEFAULT 0,
    failovers INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, key, account, model, route, code)
) WITHOUT ROWID;
";

/// An open usage database.
pub struct Db {
    conn: Connection,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").finish_non_exhaustive()
    }
}

/// Saturating: SQLite integers are i64.
fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn uint(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl Db {
    /// Opens (creating) the database at `path` for writing.
    pub fn open(path: &Path) -> rusqlite::Result<Db> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Db { conn })
    }

    /// Opens an existing database read-only (`codex-pool usage`, beside a
    /// running gateway).
    pub fn open_read(path: &Path) -> rusqlite::Result<Db> {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        Ok(Db { conn })
    }

    /// Adds `batch` to the rollups in one transaction: all of it or none.
    /// The upsert is prepared once per connection (its parse was most of a
    /// batch's cost) and kept in the connection's statement cache.
    pub fn add(&mut self, batch: &HashMap<Slot, Counts>) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO usage_hourly
                   (hour, key, account, model, route, code, requests, input, cached, output, reasoning, failovers)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT (hour, key, account, model, route, code) DO UPDATE SET
                   requests = requests + excluded.requests,
                   input = input + excluded.input,
                   cached = cached + excluded.cached,
                   output = output + excluded.output,
                   reasoning = reasoning + excluded.reasoning,
                   failovers = failovers + excluded.failovers",
            )?;
            for (s, c) in batch {
                st.execute(params![
                    s.hour,
                    s.key,
                    s.account,
                    s.model,
                    s.route,
                    s.code,
                    int(c.requests),
                    int(c.input),
                    int(c.cached),
                    int(c.output),
                    int(c.reasoning),
                    int(c.failovers)
                ])?;
            }
        }
        tx.commit()
    }

    /// Deletes rollups of hours before `before` (unix seconds).
    pub fn prune(&self, before: i64) -> rusqlite::Result<usize> {
        self.conn
            .execute("DELETE FROM usage_hourly WHERE hour < ?1", params![before])
    }

    /// The rows of hours in `[since, until)`, optionally of one key.
    pub fn rows(
        &self,
        since: i64,
        until: i64,
        key: Option<&str>,
    ) -> rusqlite::Result<Vec<(Slot, Counts)>> {
        if !self.has_table()? {
            // A file the writer has created but not yet set up.
            return Ok(Vec::new());
        }
        let mut st = self.conn.prepare(
            "SELECT hour, key, account, model, route, code,
                    requests, input, cached, output, reasoning, failovers
             FROM usage_hourly WHERE hour >= ?1 AND hour < ?2 AND (?3 IS NULL OR key = ?3)
             ORDER BY hour",
        )?;
        let rows = st.query_map(params![since, until, key], |r| {
            Ok((
                Slot {
                    hour: r.get(0)?,
                    key: r.get(1)?,
                    account: r.get(2)?,
                    model: r.get(3)?,
                    route: r.get(4)?,
                    code: r.get(5)?,
                },
                Counts {
                    requests: uint(r.get(6)?),
                    input: uint(r.get(7)?),
                    cached: uint(r.get(8)?),
                    output: uint(r.get(9)?),
                    reasoning: uint(r.get(10)?),
                    failovers: uint(r.get(11)?),
                },
            ))
        })?;
        rows.collect()
    }

    fn has_table(&self) -> rusqlite::Result<bool> {
        self.conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'usage_hourly'",
            [],
            |r| r.get::<_, i64>(0).map(|n| n > 0),
        )
    }

    /// Tokens each key spent in hours from `since` on: `(key, tokens)`.
    pub fn spent_since(&self, since: i64) -> rusqlite::Result<HashMap<String, u64>> {
        let mut st = self.conn.prepare(
            "SELECT key, SUM(input) + SUM(output) FROM usage_hourly WHERE hour >= ?1 GROUP BY key",
        )?;
        let rows = st.query_map(params![since], |r| {
            Ok((r.get::<_, String>(0)?, uint(r.get(1)?)))
        })?;
        rows.collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(hour: i64, key: &str, code: &str) -> Slot {
        Slot {
            hour,
            key: key.into(),
            account: "a".into(),
            model: "m".into(),
            route: "chat".into(),
            code: code.into(),
        }
    }

    #[test]
    fn batches_add_up_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u.db");
        let c = Counts {
            requests: 1,
            input: 10,
            cached: 2,
            output: 5,
            reasoning: 1,
            failovers: 0,
        };
        let mut db = Db::open(&path).unwrap();
        let batch = HashMap::from([(slot(3600, "k", "ok"), c), (slot(3600, "k", "timeout"), c)]);
        db.add(&batch).unwrap();
        db.add(&batch).unwrap();
        drop(db);
        let db = Db::open(&path).unwrap();
        let rows = db.rows(0, 7200, Some("k")).unwrap();
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|(_, c)| c.requests == 2 && c.input == 20));
        assert_eq!(db.spent_since(3600).unwrap()["k"], 60);
        assert!(db.rows(0, 7200, Some("other")).unwrap().is_empty());
        assert_eq!(db.prune(7200).unwrap(), 2);
    }
}
