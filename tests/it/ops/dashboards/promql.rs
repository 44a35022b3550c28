//! Reading PromQL against a scrape, with no Prometheus: the metric families a
//! scrape holds (type, label names, values seen), and every problem with an
//! expression (a metric, label or label value the gateway does not expose).

use std::collections::{BTreeMap, BTreeSet};

/// Labels a Prometheus server adds to every scraped series.
pub const TARGET_LABELS: &[&str] = &["job", "instance"];

/// Metric families of a scrape: type, label names, and the values seen per label.
#[derive(Debug, Default)]
pub struct Family {
    pub kind: String,
    pub labels: BTreeMap<String, BTreeSet<String>>,
}

pub fn families(scrape: &str) -> BTreeMap<String, Family> {
    let mut out: BTreeMap<String, Family> = BTreeMap::new();
    for line in scrape.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            out.entry(name.to_string()).or_default().kind = kind.to_string();
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let series = line.rsplit_once(' ').unwrap().0;
        let (name, labels) = series.split_once('{').unwrap_or((series, "}"));
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|b| out.get(*b).is_some_and(|f| f.kind == "histogram"))
            })
            .unwrap_or(name);
        let family = out.entry(base.to_string()).or_default();
        for kv in labels
            .trim_end_matches('}')
            .split("\",")
            .filter(|s| !s.is_empty())
        {
            let (k, v) = kv.split_once('=').unwrap();
            family
                .labels
                .entry(k.to_string())
                .or_default()
                .insert(v.trim_matches('"').to_string());
        }
    }
    out
}

// ------------------------------------------------------------------ PromQL scanning

pub fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `codex_pool_*` names in `expr`, each with the selector body that follows it (if any).
pub fn metric_refs(expr: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = expr[from..].find("codex_pool_").map(|i| i + from) {
        let before = expr[..i].chars().next_back();
        let end = expr[i..]
            .find(|c: char| !is_ident(c))
            .map_or(expr.len(), |e| e + i);
        from = end;
        if before.is_some_and(is_ident) {
            continue;
        }
        let name = expr[i..end].to_string();
        let rest = expr[end..].trim_start();
        let selector = rest
            .strip_prefix('{')
            .map(|r| r[..r.find('}').expect("unclosed selector")].to_string());
        out.push((name, selector));
    }
    out
}

/// `(label, op, value)` of a selector body such as `account=~"$account",state="ready"`.
pub fn matchers(selector: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut rest = selector.trim();
    while !rest.is_empty() {
        let key_end = rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
        let key = rest[..key_end].to_string();
        let after = rest[key_end..].trim_start();
        let op = ["=~", "!~", "!=", "="]
            .iter()
            .find(|op| after.starts_with(**op))
            .unwrap_or_else(|| panic!("bad selector {selector:?}"));
        let after = after[op.len()..].trim_start();
        let after = after
            .strip_prefix('"')
            .unwrap_or_else(|| panic!("unquoted value in {selector:?}"));
        let close = after
            .find('"')
            .unwrap_or_else(|| panic!("unclosed value in {selector:?}"));
        out.push((key, op.to_string(), after[..close].to_string()));
        rest = after[close + 1..]
            .trim_start()
            .trim_start_matches(',')
            .trim_start();
    }
    out
}

/// Labels named in `by`, `without`, `on`, `ignoring`, `group_left`, `group_right` clauses.
pub fn grouping_labels(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for word in [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ] {
        let mut from = 0;
        while let Some(i) = expr[from..].find(word).map(|i| i + from) {
            from = i + word.len();
            let before_ok = !expr[..i].chars().next_back().is_some_and(is_ident);
            let rest = expr[from..].trim_start();
            if !before_ok || !rest.starts_with('(') {
                continue;
            }
            let list = &rest[1..rest.find(')').unwrap()];
            out.extend(
                list.split(',')
                    .map(|l| l.trim().to_string())
                    .filter(|l| !l.is_empty()),
            );
        }
    }
    out
}

/// `{{label}}` placeholders of a legend format.
pub fn legend_labels(legend: &str) -> Vec<String> {
    legend
        .split("{{")
        .skip(1)
        .filter_map(|p| p.split_once("}}").map(|(l, _)| l.trim().to_string()))
        .collect()
}

/// Every problem with `expr` against the live families; empty when it is sound.
pub fn check_expr(where_: &str, expr: &str, fams: &BTreeMap<String, Family>) -> Vec<String> {
    let mut problems = Vec::new();
    let refs = metric_refs(expr);
    if refs.is_empty() {
        problems.push(format!("{where_}: no codex_pool_ metric in {expr:?}"));
    }
    let mut known_labels: BTreeSet<String> = TARGET_LABELS.iter().map(|s| s.to_string()).collect();
    for (name, selector) in &refs {
        let (family, bucket) = match fams.get(name.as_str()) {
            Some(f) => (f, false),
            None => {
                let hist = ["_bucket", "_sum", "_count"].iter().find_map(|s| {
                    let base = name.strip_suffix(s)?;
                    fams.get(base)
                        .filter(|f| f.kind == "histogram")
                        .map(|f| (f, *s == "_bucket"))
                });
                match hist {
                    Some(h) => h,
                    None => {
                        problems.push(format!("{where_}: {name} is not in the scrape"));
                        continue;
                    }
                }
            }
        };
        if family.kind == "histogram" && !bucket && fams.contains_key(name.as_str()) {
            problems.push(format!(
                "{where_}: {name} is a histogram; use _bucket, _sum or _count"
            ));
        }
        known_labels.extend(family.labels.keys().cloned());
        for (label, op, value) in selector.as_deref().map(matchers).unwrap_or_default() {
            if bucket && label == "le" {
                continue;
            }
            let Some(values) = family.labels.get(&label) else {
                problems.push(format!(
                    "{where_}: {name} has no label {label:?} (it has {:?})",
                    family.labels.keys().collect::<Vec<_>>()
                ));
                continue;
            };
            if value.contains('$') || value == ".*" {
                continue;
            }
            let alternatives: Vec<&str> = if op.ends_with('~') {
                value.split('|').collect()
            } else {
                vec![value.as_str()]
            };
            for alt in alternatives {
                if alt.chars().all(|c| is_ident(c) || c == '-' || c == '.') && !values.contains(alt)
                {
                    problems.push(format!("{where_}: {name}{{{label}{op}\"{value}\"}}: {alt:?} is not a value the gateway emits ({values:?})"));
                }
            }
        }
    }
    for label in grouping_labels(expr) {
        if label != "le" && !known_labels.contains(&label) {
            problems.push(format!(
                "{where_}: groups by {label:?}, which no metric of the expression has"
            ));
        }
    }
    problems
}
