//! The doctor's findings: one line per check (✓/✗ and what to do), or JSON;
//! and the HTTP `Date` the clock check reads.

use serde_json::{json, Value};

pub(super) struct Check {
    name: String,
    ok: bool,
    detail: String,
    fix: String,
}

impl Check {
    pub(super) fn good(name: &str, detail: &str) -> Check {
        Check {
            name: name.into(),
            ok: true,
            detail: detail.into(),
            fix: String::new(),
        }
    }

    pub(super) fn bad(name: &str, detail: &str, fix: &str) -> Check {
        Check {
            name: name.into(),
            ok: false,
            detail: detail.into(),
            fix: fix.into(),
        }
    }
}

#[derive(Default)]
pub(super) struct Report(Vec<Check>);

impl Report {
    pub(super) fn push(&mut self, c: Check) {
        self.0.push(c);
    }

    pub(super) fn ok(&self) -> bool {
        self.0.iter().all(|c| c.ok)
    }

    pub(super) fn print(&self, json: bool) {
        if json {
            let checks: Vec<Value> = self
                .0
                .iter()
                .map(|c| json!({"check": c.name, "ok": c.ok, "detail": c.detail, "fix": c.fix}))
                .collect();
            println!("{}", json!({"ok": self.ok(), "checks": checks}));
            return;
        }
        for c in &self.0 {
            match c.ok {
                true => println!("✓ {}: {}", c.name, c.detail),
                false if c.fix.is_empty() => println!("✗ {}: {}", c.name, c.detail),
                false => println!("✗ {}: {} — {}", c.name, c.detail, c.fix),
            }
        }
    }
}

/// Unix seconds of an IMF-fixdate (`Mon, 07 Dec 2026 21:58:00 GMT`).
pub(super) fn http_date(s: &str) -> Option<i64> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m = MONTHS.iter().position(|x| x == month)? as i64 + 1;
    let (d, y): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
    let hms: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, mi, se] = hms.as_slice() else {
        return None;
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + se)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_http_date() {
        assert_eq!(http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            http_date("Mon, 07 Dec 2026 21:58:00 GMT"),
            Some(1_796_680_680)
        );
        assert_eq!(http_date("yesterday"), None);
    }
}
