//! Reading the rollups back: a query (`since`, `until`, `by`) parsed from text
//! the admin API and the CLI share, the rows grouped by the asked
//! dimensions, and those groups as JSON or CSV. Pure: the rows come from
//! SQLite (`db.rs`) or the shared store (`store::usage`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{json, Value};

use super::{Counts, Slot};

/// What a query may group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Key,
    Account,
    Model,
    Route,
    Code,
    Day,
    Hour,
}

impl By {
    pub fn name(self) -> &'static str {
        match self {
            By::Key => "key",
            By::Account => "account",
            By::Model => "model",
            By::Route => "route",
            By::Code => "code",
            By::Day => "day",
            By::Hour => "hour",
        }
    }

    fn of(self, s: &Slot) -> String {
        match self {
            By::Key => s.key.clone(),
            By::Account => s.account.clone(),
            By::Model => s.model.clone(),
            By::Route => s.route.clone(),
            By::Code => s.code.clone(),
            By::Day => time(s.hour)[..10].to_string(),
            By::Hour => time(s.hour),
        }
    }
}

/// Unix seconds as RFC 3339 (UTC, seconds).
fn time(unix: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_secs(u64::try_from(unix).unwrap_or(0));
    humantime::format_rfc3339_seconds(t).to_string()
}

/// `key,model,day` → the dimensions, in order.
pub fn parse_by(text: &str) -> Result<Vec<By>, String> {
    let all = [
        By::Key,
        By::Account,
        By::Model,
        By::Route,
        By::Code,
        By::Day,
        By::Hour,
    ];
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some(b) = all.iter().find(|b| b.name() == part) else {
            return Err(format!(
                "'by' has {part:?}; it takes key, account, model, route, code, day, hour"
            ));
        };
        if !out.contains(b) {
            out.push(*b);
        }
    }
    Ok(out)
}

/// A time as unix seconds: a duration back from `now` (`7d`, `24h`), a date
/// (`2026-12-01`, UTC), an RFC 3339 time, or unix seconds.
pub fn parse_time(text: &str, now: i64) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(n) = text.parse::<i64>() {
        return Ok(n);
    }
    if let Ok(d) = humantime::parse_duration(text) {
        let back = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        return Ok(now.saturating_sub(back));
    }
    let full = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_string()
    };
    humantime::parse_rfc3339_weak(full.trim_end_matches('Z'))
        .map(crate::clock::unix)
        .map_err(|_| format!("{text:?} is not a time: write 7d, 24h, 2026-12-01, an RFC 3339 time or unix seconds"))
}

/// One group of rows: the values of the `by` dimensions and what they sum to.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    #[serde(flatten)]
    pub fields: BTreeMap<&'static str, String>,
    #[serde(flatten)]
    pub counts: Counts,
    pub errors: u64,
    pub errors_by_code: BTreeMap<String, u64>,
}

/// Sums `rows` by `by` (no dimensions: one total), in the order of the values.
pub fn group(rows: &[(Slot, Counts)], by: &[By]) -> Vec<Group> {
    let mut groups: BTreeMap<Vec<String>, Group> = BTreeMap::new();
    for (slot, c) in rows {
        let values: Vec<String> = by.iter().map(|b| b.of(slot)).collect();
        let g = groups.entry(values.clone()).or_insert_with(|| Group {
            fields: by.iter().map(|b| b.name()).zip(values).collect(),
            counts: Counts::default(),
            errors: 0,
            errors_by_code: BTreeMap::new(),
        });
        g.counts.add(c);
        if slot.code != "ok" {
            g.errors += c.requests;
            *g.errors_by_code.entry(slot.code.clone()).or_default() += c.requests;
        }
    }
    groups.into_values().collect()
}

/// The JSON answer: the window and the groups.
pub fn to_json(since: i64, until: i64, by: &[By], groups: &[Group]) -> Value {
    json!({
        "since": time(since),
        "until": time(until),
        "by": by.iter().map(|b| b.name()).collect::<Vec<_>>(),
        "rows": groups,
    })
}

/// The groups as CSV: the `by` columns, then the counters.
pub fn to_csv(by: &[By], groups: &[Group]) -> String {
    let mut out = String::new();
    for b in by {
        out.push_str(b.name());
        out.push(',');
    }
    out.push_str(
        "requests,errors,input_tokens,cached_tokens,output_tokens,reasoning_tokens,failovers\n",
    );
    for g in groups {
        for b in by {
            out.push_str(&csv_field(g.fields.get(b.name()).map_or("", |v| v)));
            out.push(',');
        }
        let c = &g.counts;
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{}",
            c.requests, g.errors, c.input, c.cached, c.output, c.reasoning, c.failovers
        );
    }
    out
}

/// A CSV field, quoted when it must be; a leading `=+-@` is defused for
/// spreadsheets.
fn csv_field(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@']) && v != "-" {
        format!("'{v}")
    } else {
        v.to_string()
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(hour: i64, key: &str, model: &str, code: &str, n: u64) -> (Slot, Counts) {
        let slot = Slot {
            hour,
            key: key.into(),
            account: "a".into(),
            model: model.into(),
            route: "chat".into(),
            code: code.into(),
        };
        let c = Counts {
            requests: n,
            input: 10 * n,
            output: n,
            ..Counts::default()
        };
        (slot, c)
    }

    #[test]
    fn groups_sum_and_count_errors_by_code() {
        let rows = [
            row(0, "k", "m", "ok", 2),
            row(3600, "k", "m", "timeout", 1),
            row(90_000, "j", "m", "ok", 1),
        ];
        let g = group(&rows, &[By::Key, By::Day]);
        assert_eq!(g.len(), 2);
        assert_eq!(g[1].fields["key"], "k");
        assert_eq!(g[1].fields["day"], "1970-01-01");
        assert_eq!((g[1].counts.requests, g[1].errors), (3, 1));
        assert_eq!(g[1].errors_by_code["timeout"], 1);
        let csv = to_csv(&[By::Key, By::Day], &g);
        assert_eq!(csv.lines().nth(2), Some("k,1970-01-01,3,1,30,0,3,0,0"));
        assert_eq!(group(&rows, &[]).len(), 1);
    }

    #[test]
    fn times_and_dimensions_parse() {
        assert_eq!(parse_time("7d", 1_000_000), Ok(1_000_000 - 7 * 86_400));
        assert_eq!(parse_time("1970-01-02", 0), Ok(86_400));
        assert_eq!(parse_time("1970-01-01T01:00:00Z", 0), Ok(3600));
        assert!(parse_time("soon", 0).is_err());
        assert_eq!(parse_by("key,day").unwrap(), vec![By::Key, By::Day]);
        assert!(parse_by("key,secret").is_err());
        assert_eq!(csv_field("=cmd(1)"), "'=cmd(1)");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }
}
