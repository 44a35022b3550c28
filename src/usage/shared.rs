//! Usage rollups in the shared store, so every replica reads the team's
//! totals: one hash per hour (`{prefix}usage:{hour}`), a field per rollup row
//! and counter (`key␟account␟model␟route␟code␟counter`), HINCRBY'd by each
//! replica and expiring after the retention. What the numbers mean is
//! this module's; the store only carries the hashes.

use std::collections::HashMap;
use std::time::Duration;

use super::{Counts, Slot};
use crate::store::{Error as StoreError, Redis};

/// Between the parts of a field (names hold no control characters).
const SEP: char = '\u{1f}';

/// The most hours one read asks for (400 days).
const MAX_HOURS: i64 = 400 * 24;

const COUNTERS: [&str; 6] = [
    "requests",
    "input",
    "cached",
    "output",
    "reasoning",
    "failovers",
];

fn values(c: &Counts) -> [u64; 6] {
    [
        c.requests,
        c.input,
        c.cached,
        c.output,
        c.reasoning,
        c.failovers,
    ]
}

impl Redis {
    /// Adds `rollups` to the hour hashes, kept for `retention`.
    pub async fn add_usage(
        &self,
        rollups: &HashMap<Slot, Counts>,
        retention: Duration,
    ) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        let mut hours = std::collections::BTreeSet::new();
        for (s, c) in rollups {
            let hash = self.key("usage", &s.hour.to_string());
            let base =
                [&*s.key, &*s.account, &*s.model, &*s.route, &*s.code].join(&SEP.to_string());
            for (name, v) in COUNTERS.iter().zip(values(c)) {
                if v > 0 {
                    let field = format!("{base}{SEP}{name}");
                    pipe.cmd("HINCRBY").arg(&hash).arg(field).arg(v).ignore();
                }
            }
            hours.insert(hash);
        }
        let ttl = retention.as_secs().saturating_add(3600);
        for hash in hours {
            pipe.cmd("EXPIRE").arg(hash).arg(ttl).ignore();
        }
        self.call::<()>(&pipe).await
    }

    /// The rollup rows of hours in `[since, until)`, optionally of one key.
    pub async fn usage_rows(
        &self,
        since: i64,
        until: i64,
        key: Option<&str>,
    ) -> Result<Vec<(Slot, Counts)>, StoreError> {
        let first = since - since.rem_euclid(3600);
        let until = until.min(first + MAX_HOURS * 3600);
        let hours: Vec<i64> = (first..until).step_by(3600).collect();
        let mut pipe = redis::pipe();
        for h in &hours {
            pipe.cmd("HGETALL").arg(self.key("usage", &h.to_string()));
        }
        let hashes: Vec<HashMap<String, u64>> = self.call(&pipe).await?;
        let mut rows: HashMap<Slot, Counts> = HashMap::new();
        for (hour, hash) in hours.iter().zip(hashes) {
            for (field, v) in hash {
                let parts: Vec<&str> = field.split(SEP).collect();
                let [k, account, model, route, code, counter] = parts[..] else {
                    continue;
                };
                if key.is_some_and(|want| want != k) {
                    continue;
                }
                let slot = Slot {
                    hour: *hour,
                    key: k.into(),
                    account: account.into(),
                    model: model.into(),
                    route: route.into(),
                    code: code.into(),
                };
                let c = rows.entry(slot).or_default();
                match counter {
                    "requests" => c.requests = v,
                    "input" => c.input = v,
                    "cached" => c.cached = v,
                    "output" => c.output = v,
                    "reasoning" => c.reasoning = v,
                    "failovers" => c.failovers = v,
                    _ => {}
                }
            }
        }
        let mut rows: Vec<(Slot, Counts)> = rows.into_iter().collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(rows)
    }
}
