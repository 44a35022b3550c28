//! The soak's end: after the traffic stops and the replicas settle, each
//! invariant is checked and written as a Markdown table.

use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::faults::Fault;
use super::traffic::Tally;
use super::{Args, Soak};

/// How long the replicas settle before the checks (streams end, cooldowns
/// of the last faults run out, a last sync round).
const SETTLE: Duration = Duration::from_secs(12);

fn row(out: &mut String, name: &str, ok: bool, detail: &str) {
    let verdict = if ok { "holds" } else { "**FAIL**" };
    let _ = writeln!(out, "| {name} | {verdict} | {detail} |");
}

pub async fn check(
    soak: &mut Soak,
    tally: &Arc<Mutex<Tally>>,
    applied: &[(u64, Fault, String)],
    a: &Args,
) -> String {
    tokio::time::sleep(SETTLE).await;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "soak: seed {}, {} s, a fault every {} s, {} workers, {} faults applied\n",
        a.seed,
        a.duration.as_secs(),
        a.every.as_secs(),
        a.workers,
        applied.len()
    );
    let _ = writeln!(out, "| invariant | result | detail |\n|---|---|---|");
    logins(soak, &mut out).await;
    let (failures, total, detail, examples) = {
        let t = tally.lock().expect("tally");
        let detail = t
            .outcomes
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        (t.failures(), t.total(), detail, t.examples.join("; "))
    };
    row(
        &mut out,
        "every request served or answered with a specific error (none hung, none 500)",
        failures == 0 && total > 0,
        &format!("{total} requests; {detail}"),
    );
    let panics: Vec<String> = soak
        .replicas
        .iter()
        .filter(|r| r.log().contains("panic"))
        .map(|r| r.name.clone())
        .collect();
    row(
        &mut out,
        "no panic in either log",
        panics.is_empty(),
        &if panics.is_empty() {
            "0 lines with `panic`".to_string()
        } else {
            format!("in {}", panics.join(", "))
        },
    );
    resources(soak, &mut out);
    let mut counted = soak.counted_before;
    let mut scraped = true;
    for r in &soak.replicas {
        match r.tokens_counted().await {
            Some(n) => counted += n,
            None => scraped = false,
        }
    }
    let served = soak.mock.served_tokens();
    row(
        &mut out,
        "token accounting equals what the mock served",
        scraped && counted == served,
        &format!("gateways counted {counted}, the mock served {served}"),
    );
    let mut by_fault = std::collections::BTreeMap::new();
    for (_, f, _) in applied {
        *by_fault.entry(format!("{f:?}")).or_insert(0u32) += 1;
    }
    let faults = by_fault
        .iter()
        .map(|(k, n)| format!("{k} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(out, "\nfaults: {faults}");
    if !examples.is_empty() {
        let _ = writeln!(out, "failures (first 10): {examples}");
    }
    for n in &soak.notes {
        let _ = writeln!(out, "note: {n}");
    }
    out
}

/// No login lost: the issuer never saw a spent refresh token, and every
/// account on every replica is ready or cooling for a stated reason.
async fn logins(soak: &Soak, out: &mut String) {
    let reused = soak.mock.reused_refreshes();
    let mut states = Vec::new();
    let mut ok = reused == 0;
    for r in &soak.replicas {
        let Some(v) = r.admin("GET", "/admin/accounts").await else {
            ok = false;
            states.push(format!("{}: no answer", r.name));
            continue;
        };
        for acct in v["accounts"].as_array().into_iter().flatten() {
            let state = acct["state"].as_str().unwrap_or("?");
            let reason = acct["reason"].as_str();
            let fine = state == "ready" || (state == "cooling" && reason.is_some());
            ok &= fine;
            if !fine || state != "ready" {
                states.push(format!(
                    "{}/{} {state} {}",
                    r.name,
                    acct["name"].as_str().unwrap_or("?"),
                    reason.unwrap_or("")
                ));
            }
        }
    }
    let detail = if states.is_empty() {
        format!("refresh_token_reused: {reused}; every account ready on both replicas")
    } else {
        format!("refresh_token_reused: {reused}; {}", states.join(", "))
    };
    row(out, "no login lost", ok, &detail);
}

/// Memory and descriptors back to their baseline (taken after warm-up).
fn resources(soak: &Soak, out: &mut String) {
    let mut ok = true;
    let mut parts = Vec::new();
    for r in &soak.replicas {
        let (Some((rss0, fds0)), Some((rss, fds))) = (r.baseline, r.usage()) else {
            parts.push(format!("{}: not measured", r.name));
            ok = false;
            continue;
        };
        let rss_ok = rss <= (rss0 * 3 / 2).max(rss0 + 32 * 1024);
        let fds_ok = fds <= fds0 + 16;
        ok &= rss_ok && fds_ok;
        parts.push(format!(
            "{}: RSS {} → {} MB, fds {fds0} → {fds}",
            r.name,
            rss0 / 1024,
            rss / 1024
        ));
    }
    row(
        out,
        "memory and file descriptors back to baseline (RSS ≤ 1.5× or +32 MB, fds ≤ +16)",
        ok,
        &parts.join("; "),
    );
}
