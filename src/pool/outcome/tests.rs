//! Unit tests of the outcome policy (`pool/outcome.rs`).

use super::*;
use crate::pool::{Availability, State};

const POLICY: Policy = Policy {
    backoff_base: Duration::from_secs(5),
    backoff_max: Duration::from_secs(300),
    outlier_failures: 2,
};

fn server_error() -> Setback {
    Setback::Transient {
        kind: "server_error",
        retry_after: None,
    }
}

/// A health cooled once and past its cooldown, with its probe taken.
fn probing() -> (Health, u64) {
    let mut h = Health::default();
    h.on_setback(
        &server_error(),
        Instant::now(),
        Duration::ZERO,
        Duration::ZERO,
    );
    let probe = h.claim(Instant::now()).flatten().unwrap();
    (h, probe)
}

#[tokio::test(start_paused = true)]
async fn no_setback_changes_nothing_and_gives_the_probe_back() {
    let (mut h, probe) = probing();
    let effect = decide(&mut h, None, Blame::Account, Some(probe), POLICY);
    assert_eq!(effect, Effect::Nothing);
    assert_eq!(h.availability(Instant::now()), Availability::Probation);
}

#[tokio::test(start_paused = true)]
async fn the_accounts_own_failure_cools_it_at_once() {
    let mut h = Health::default();
    let effect = decide(&mut h, Some(&server_error()), Blame::Account, None, POLICY);
    assert_eq!(effect, Effect::SetBack);
    assert_eq!(h.state(), State::Cooling);
    assert_eq!(h.until(), Some(Instant::now() + POLICY.backoff_base));
}

#[tokio::test(start_paused = true)]
async fn a_suspect_cools_only_after_the_threshold_of_different_requests() {
    let mut h = Health::default();
    let s = server_error();
    let first = decide(
        &mut h,
        Some(&s),
        Blame::Suspect { request: 1 },
        None,
        POLICY,
    );
    assert_eq!(first, Effect::Suspected { cooled: false });
    let same = decide(
        &mut h,
        Some(&s),
        Blame::Suspect { request: 1 },
        None,
        POLICY,
    );
    assert_eq!(
        same,
        Effect::Suspected { cooled: false },
        "the same request resent is one suspect"
    );
    assert_eq!(h.state(), State::Ready);
    let other = decide(
        &mut h,
        Some(&s),
        Blame::Suspect { request: 2 },
        None,
        POLICY,
    );
    assert_eq!(other, Effect::Suspected { cooled: true });
    assert_eq!(h.state(), State::Cooling);
}

#[tokio::test(start_paused = true)]
async fn a_suspect_on_a_probe_cools_at_once() {
    let (mut h, probe) = probing();
    let blame = Blame::Suspect { request: 9 };
    let effect = decide(&mut h, Some(&server_error()), blame, Some(probe), POLICY);
    assert_eq!(effect, Effect::Suspected { cooled: true });
    assert!(matches!(
        h.availability(Instant::now()),
        Availability::Cooling { .. }
    ));
}

#[tokio::test(start_paused = true)]
async fn a_background_refresh_changes_the_account_only_for_a_dead_login() {
    let mut h = Health::default();
    let effect = decide(&mut h, Some(&server_error()), Blame::Refresh, None, POLICY);
    assert_eq!(effect, Effect::Nothing);
    assert_eq!(h.state(), State::Ready);
    let dead = Setback::NeedsRelogin {
        reason: "refresh token revoked".into(),
    };
    assert_eq!(
        decide(&mut h, Some(&dead), Blame::Refresh, None, POLICY),
        Effect::SetBack
    );
    assert_eq!(h.state(), State::NeedsRelogin);
}

#[tokio::test(start_paused = true)]
async fn a_setback_ends_the_probe_with_its_verdict() {
    let (mut h, probe) = probing();
    let effect = decide(
        &mut h,
        Some(&server_error()),
        Blame::Account,
        Some(probe),
        POLICY,
    );
    assert_eq!(effect, Effect::SetBack);
    assert!(matches!(
        h.availability(Instant::now()),
        Availability::Cooling { .. }
    ));
}

#[test]
fn blame_asks_for_the_request_only_when_it_is_a_suspect() {
    assert_eq!(
        Blame::of(true, || unreachable!(
            "an account's own failure needs no request"
        )),
        Blame::Account
    );
    assert_eq!(Blame::of(false, || 7), Blame::Suspect { request: 7 });
}
