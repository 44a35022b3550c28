//! `codex-pool usage`: the usage rollups from the gateway's SQLite file, as a
//! table or CSV. It reads the file (read-only; the gateway may be running,
//! WAL lets both work), so it needs neither a running gateway nor the admin
//! token; with `[store]`, `GET /admin/usage` gives the totals of all replicas.

use crate::config::Config;
use crate::usage::db::Db;
use crate::usage::query::{self, By, Group};

pub(super) struct Options {
    pub since: String,
    pub until: Option<String>,
    pub by: String,
    pub csv: bool,
}

pub(super) fn run(config: &Config, opts: &Options) -> Result<(), String> {
    let Some(path) = &config.usage.path else {
        return Err(
            "this configuration keeps no usage ([usage] enabled = false, or no config file)".into(),
        );
    };
    if !path.exists() {
        return Err(format!("{}: no usage recorded yet", path.display()));
    }
    let now = crate::clock::unix_now();
    let since = query::parse_time(&opts.since, now)?;
    let until = match &opts.until {
        Some(u) => query::parse_time(u, now)?,
        None => now + 1,
    };
    let by = query::parse_by(&opts.by)?;
    let shown = |e: rusqlite::Error| format!("{}: {e}", path.display());
    let db = Db::open_read(path).map_err(shown)?;
    let rows = db
        .rows(since - since.rem_euclid(3600), until, None)
        .map_err(shown)?;
    let groups = query::group(&rows, &by);
    if opts.csv {
        print!("{}", query::to_csv(&by, &groups));
    } else {
        print!("{}", table(&by, &groups));
    }
    Ok(())
}

/// The groups as an aligned text table.
fn table(by: &[By], groups: &[Group]) -> String {
    let mut head: Vec<String> = by.iter().map(|b| b.name().to_string()).collect();
    head.extend(
        [
            "requests",
            "errors",
            "input",
            "cached",
            "output",
            "reasoning",
            "failovers",
        ]
        .map(String::from),
    );
    let mut lines = vec![head];
    for g in groups {
        let mut l: Vec<String> = by
            .iter()
            .map(|b| g.fields.get(b.name()).cloned().unwrap_or_default())
            .collect();
        let c = &g.counts;
        l.extend(
            [
                c.requests,
                g.errors,
                c.input,
                c.cached,
                c.output,
                c.reasoning,
                c.failovers,
            ]
            .map(|n| n.to_string()),
        );
        lines.push(l);
    }
    let widths: Vec<usize> = (0..lines[0].len())
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for l in &lines {
        let cells: Vec<String> = l
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (v, w))| {
                if i < by.len() {
                    format!("{v:<w$}")
                } else {
                    format!("{v:>w$}")
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
