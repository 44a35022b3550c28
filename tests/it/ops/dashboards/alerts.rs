//! `dashboards/alerts.yml`: its rules' expressions, and what every alert
//! carries (a `for`, a severity, a summary and a description).

use std::collections::BTreeMap;

use super::read;

/// The `expr:` of each rule, by alert name: plain values and `>-`/`|` blocks.
pub(super) fn alert_exprs(text: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut out = Vec::new();
    let mut name = String::from("?");
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].trim_start().trim_start_matches("- ");
        if let Some(n) = t
            .strip_prefix("alert:")
            .or_else(|| t.strip_prefix("record:"))
        {
            name = n.trim().to_string();
        }
        if let Some(v) = t.strip_prefix("expr:") {
            let v = v.trim();
            if matches!(v, ">" | ">-" | "|" | "|-") {
                let base = indent(lines[i]);
                let mut body = Vec::new();
                i += 1;
                while i < lines.len() && (lines[i].trim().is_empty() || indent(lines[i]) > base) {
                    body.push(lines[i].trim());
                    i += 1;
                }
                out.push((name.clone(), body.join(" ").trim().to_string()));
                continue;
            }
            out.push((
                name.clone(),
                v.trim_matches(|c| c == '\'' || c == '"').to_string(),
            ));
        }
        i += 1;
    }
    out
}

#[test]
fn every_alert_has_for_severity_summary_and_description() {
    let text = read("dashboards/alerts.yml");
    assert!(text.starts_with("# ") || text.starts_with("groups:"));
    assert!(text.lines().any(|l| l == "groups:"));
    let blocks: Vec<&str> = text.split("- alert:").skip(1).collect();
    let names: Vec<&str> = blocks
        .iter()
        .map(|b| b.lines().next().unwrap().trim())
        .collect();
    for want in [
        "CodexPoolAccountNeedsRelogin",
        "CodexPoolNoAccountReady",
        "CodexPoolQuotaAlmostUsed",
        "CodexPoolTokenExpiringRefreshFailing",
        "CodexPoolHighErrorRate",
        "CodexPoolOverheadHigh",
    ] {
        assert!(names.contains(&want), "no alert {want} in {names:?}");
    }
    for (name, block) in names.iter().zip(&blocks) {
        for key in [
            "expr:",
            "for:",
            "labels:",
            "severity:",
            "annotations:",
            "summary:",
            "description:",
        ] {
            assert!(
                block.lines().any(|l| l.trim_start().starts_with(key)),
                "{name} has no {key}"
            );
        }
        let severity = block
            .lines()
            .find_map(|l| l.trim().strip_prefix("severity:"))
            .unwrap()
            .trim();
        assert!(
            matches!(severity, "warning" | "critical"),
            "{name}: severity {severity}"
        );
    }
    let exprs: BTreeMap<String, String> = alert_exprs(&text).into_iter().collect();
    assert_eq!(exprs.len(), names.len(), "one expr per alert");
    assert!(exprs["CodexPoolQuotaAlmostUsed"].contains("> 90"));
    assert!(exprs["CodexPoolTokenExpiringRefreshFailing"].contains("- time() < 3600"));
    assert!(exprs["CodexPoolHighErrorRate"].contains("[5m]"));
    assert!(exprs["CodexPoolOverheadHigh"].contains("> 0.005"));
    let overhead_block = blocks[names
        .iter()
        .position(|n| *n == "CodexPoolOverheadHigh")
        .unwrap()];
    assert!(overhead_block.contains("for: 10m"));
}
