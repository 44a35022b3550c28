//! Unit tests of `pool/breaker`.

use super::*;

const BASE: Duration = Duration::from_secs(5);
const MAX: Duration = Duration::from_secs(300);

fn transient() -> Setback {
    Setback::Transient {
        kind: "server_error",
        retry_after: None,
    }
}

#[tokio::test(start_paused = true)]
async fn backoff_doubles_to_the_cap_and_success_resets_it() {
    let mut h = Health::default();
    let mut waits = Vec::new();
    for _ in 0..8 {
        let now = Instant::now();
        h.on_setback(&transient(), now, BASE, MAX);
        waits.push(h.until().map(|u| (u - now).as_secs()).unwrap_or(0));
    }
    assert_eq!(waits, [5, 10, 20, 40, 80, 160, 300, 300]);
    h.on_success();
    let now = Instant::now();
    h.on_setback(&transient(), now, BASE, MAX);
    assert_eq!(h.until().map(|u| (u - now).as_secs()), Some(5));
}

#[tokio::test(start_paused = true)]
async fn probation_lets_exactly_one_request_decide() {
    let mut h = Health::default();
    h.on_setback(&transient(), Instant::now(), BASE, MAX);
    assert!(h.claim(Instant::now()).is_none());
    tokio::time::advance(Duration::from_secs(6)).await;
    assert_eq!(h.availability(Instant::now()), Availability::Probation);
    assert!(h.claim(Instant::now()).flatten().is_some());
    assert!(
        h.claim(Instant::now()).is_none(),
        "a second request must not probe at once"
    );
    h.on_success();
    assert_eq!(h.state(), State::Ready);
    assert_eq!(h.claim(Instant::now()), Some(None));
}

#[tokio::test(start_paused = true)]
async fn an_abandoned_probe_is_released_but_only_by_its_owner() {
    let mut h = Health::default();
    h.on_setback(&transient(), Instant::now(), BASE, MAX);
    tokio::time::advance(Duration::from_secs(6)).await;
    let first = h.claim(Instant::now()).flatten().unwrap_or(0);
    h.release(first + 100);
    assert!(
        h.claim(Instant::now()).is_none(),
        "a stranger cannot end the probe"
    );
    h.release(first);
    let second = h.claim(Instant::now()).flatten();
    assert!(
        second.is_some_and(|p| p != first),
        "the account is probed again"
    );
}

#[tokio::test(start_paused = true)]
async fn usage_limit_cools_until_the_reset_time() {
    let mut h = Health::default();
    let resets_at = SystemTime::now() + Duration::from_secs(3600);
    h.on_setback(
        &Setback::UsageLimited { resets_at },
        Instant::now(),
        BASE,
        MAX,
    );
    assert!(h.usage_limited());
    tokio::time::advance(Duration::from_secs(3590)).await;
    assert!(h.claim(Instant::now()).is_none());
    tokio::time::advance(Duration::from_secs(15)).await;
    assert!(h.claim(Instant::now()).is_some());
}

#[test]
fn usage_not_included_and_relogin_are_sticky() {
    let mut h = Health::default();
    h.on_setback(&Setback::UsageNotIncluded, Instant::now(), BASE, MAX);
    assert_eq!(h.state(), State::Disabled);
    assert!(h
        .claim(Instant::now() + Duration::from_secs(86_400))
        .is_none());
    h.on_success();
    assert_eq!(h.state(), State::Disabled);
    let mut h = Health::default();
    h.on_setback(
        &Setback::NeedsRelogin {
            reason: "refresh_token_reused".into(),
        },
        Instant::now(),
        BASE,
        MAX,
    );
    assert_eq!(h.state(), State::NeedsRelogin);
    assert_eq!(h.reason(), Some("refresh_token_reused"));
}

#[test]
fn a_dead_login_needs_relogin_and_an_unreachable_issuer_cools() {
    let dead = RefreshError::NeedsRelogin {
        reason: "refresh_token_reused".into(),
    };
    assert_eq!(
        Setback::from(&dead),
        Setback::NeedsRelogin {
            reason: "refresh_token_reused".into()
        }
    );
    let down = RefreshError::Transient("issuer answered 502".into());
    assert_eq!(
        Setback::from(&down),
        Setback::Transient {
            kind: "auth_failed",
            retry_after: None
        }
    );
}

#[tokio::test(start_paused = true)]
async fn a_login_rejected_after_refresh_cools_for_the_longest_backoff_then_is_probed() {
    let mut h = Health::default();
    let now = Instant::now();
    h.on_setback(&Setback::LoginRejected, now, BASE, MAX);
    assert_eq!(h.state(), State::Cooling, "not needs_relogin");
    assert_eq!(h.until().map(|u| (u - now).as_secs()), Some(300));
    assert_eq!(h.reason(), Some("auth_rejected_after_refresh"));
    tokio::time::advance(MAX).await;
    assert_eq!(h.availability(Instant::now()), Availability::Probation);
    assert!(h.claim(Instant::now()).flatten().is_some());
    h.on_success();
    assert_eq!(h.state(), State::Ready);
}

#[test]
fn admin_disable_survives_failures_until_enable() {
    let mut h = Health::default();
    h.disable_by_admin();
    h.on_setback(&transient(), Instant::now(), BASE, MAX);
    assert_eq!(h.state(), State::Disabled);
    h.reset();
    assert_eq!(h.state(), State::Ready);
}

#[test]
fn a_store_outage_cools_as_transient_and_is_marked_as_this_replicas_own() {
    let mut h = Health::default();
    assert_eq!(
        Setback::from(&RefreshError::StoreUnavailable),
        Setback::StoreUnavailable
    );
    h.on_setback(&Setback::StoreUnavailable, Instant::now(), BASE, MAX);
    assert_eq!(h.state(), State::Cooling);
    assert_eq!(h.reason(), Some("store unavailable"));
    assert!(h.store_outage());
    h.on_setback(&transient(), Instant::now(), BASE, MAX);
    assert!(
        !h.store_outage(),
        "an upstream failure is the account's news"
    );
}
