//! Unit tests of the replica merge policy (`pool/replicas.rs`): no Redis.

use super::*;
use crate::pool::Setback;

const NOW_MS: u64 = 1_000_000;

fn cooling(until_ms: u64) -> Published {
    Published {
        state: Verdict::Cooling,
        until_ms: Some(until_ms),
        usage_limited: false,
        reason: "server_error".into(),
        login: Some("login-1".into()),
    }
}

fn lasting(state: Verdict, login: &str) -> Published {
    Published {
        state,
        until_ms: None,
        usage_limited: false,
        reason: "why".into(),
        login: Some(login.into()),
    }
}

/// This replica, after `generation` changes of its own, holding `login-1`.
fn local(generation: u64, verdict: Option<Published>) -> Local {
    let ttl = verdict
        .as_ref()
        .and_then(|v| v.until_ms)
        .map(|u| Duration::from_millis(u - NOW_MS));
    Local {
        generation,
        verdict: verdict.map(|v| (v, ttl)),
        store_outage: false,
        login: Some("login-1".into()),
    }
}

#[test]
fn our_news_is_published_with_the_cooldown_as_its_expiry() {
    let mut seen = Seen::default();
    let action = merge(
        &local(1, Some(cooling(NOW_MS + 5_000))),
        None,
        &mut seen,
        NOW_MS,
    );
    assert_eq!(
        action,
        Action::Publish {
            verdict: cooling(NOW_MS + 5_000),
            ttl: Some(Duration::from_secs(5)),
        }
    );
    assert_eq!(
        merge(
            &local(1, Some(cooling(NOW_MS + 5_000))),
            None,
            &mut seen,
            NOW_MS
        ),
        Action::Keep,
        "published once: the next round has nothing new"
    );
}

#[test]
fn a_shorter_cooldown_never_overwrites_a_longer_one_it_is_adopted_instead() {
    let mut seen = Seen::default();
    let mut theirs = cooling(NOW_MS + 3_600_000);
    theirs.usage_limited = true;
    theirs.reason = "usage_limit_reached".into();
    let action = merge(
        &local(1, Some(cooling(NOW_MS + 5_000))),
        Some(&theirs),
        &mut seen,
        NOW_MS,
    );
    assert_eq!(
        action,
        Action::Adopt(Adoption {
            state: State::Cooling,
            left: Some(Duration::from_secs(3600)),
            reason: "usage_limit_reached".into(),
            usage_limited: true,
        })
    );
    // A longer cooldown of ours is published over theirs.
    let mut seen = Seen::default();
    let ours = cooling(NOW_MS + 7_200_000);
    assert!(matches!(
        merge(&local(1, Some(ours)), Some(&theirs), &mut seen, NOW_MS),
        Action::Publish { .. }
    ));
}

#[test]
fn a_cooldown_for_want_of_the_store_is_not_published() {
    let mut seen = Seen::default();
    let mut ours = local(1, Some(cooling(NOW_MS + 5_000)));
    ours.store_outage = true;
    assert_eq!(merge(&ours, None, &mut seen, NOW_MS), Action::Keep);
}

#[test]
fn ready_again_here_clears_the_published_verdict() {
    let mut seen = Seen::default();
    let _ = merge(
        &local(1, Some(cooling(NOW_MS + 5_000))),
        None,
        &mut seen,
        NOW_MS,
    );
    let remote = cooling(NOW_MS + 5_000);
    assert_eq!(
        merge(&local(2, None), Some(&remote), &mut seen, NOW_MS),
        Action::Clear
    );
}

#[test]
fn another_replicas_verdict_is_adopted_when_it_differs_and_lifted_with_it() {
    let mut seen = Seen::default();
    let disabled = lasting(Verdict::Disabled, "login-1");
    let action = merge(&local(0, None), Some(&disabled), &mut seen, NOW_MS);
    assert!(matches!(&action, Action::Adopt(a) if a.state == State::Disabled && a.left.is_none()));
    // Our state now matches theirs; still adopted, so it is taken on again.
    let ours = local(0, Some(disabled.clone()));
    assert!(matches!(
        merge(&ours, Some(&disabled), &mut seen, NOW_MS),
        Action::Adopt(_)
    ));
    assert_eq!(
        merge(&ours, None, &mut seen, NOW_MS),
        Action::AdoptReady,
        "the replica that made the verdict lifted it"
    );
    assert_eq!(
        merge(&local(0, None), None, &mut seen, NOW_MS),
        Action::Keep,
        "lifted once"
    );
}

#[test]
fn a_verdict_we_share_ourselves_is_left_alone() {
    let mut seen = Seen::default();
    let ours = local(1, Some(lasting(Verdict::Disabled, "login-1")));
    let _ = merge(&ours, None, &mut seen, NOW_MS);
    let theirs = lasting(Verdict::Disabled, "login-1");
    assert_eq!(merge(&ours, Some(&theirs), &mut seen, NOW_MS), Action::Keep);
    assert_eq!(
        merge(&local(1, None), None, &mut seen, NOW_MS),
        Action::Keep,
        "no verdict there and none adopted: nothing to lift"
    );
}

#[test]
fn a_dead_login_is_adopted_only_by_a_replica_holding_that_login() {
    let mut seen = Seen::default();
    let same = lasting(Verdict::NeedsRelogin, "login-1");
    assert!(matches!(
        merge(&local(0, None), Some(&same), &mut seen, NOW_MS),
        Action::Adopt(a) if a.state == State::NeedsRelogin
    ));
    let mut seen = Seen::default();
    let other = lasting(Verdict::NeedsRelogin, "login-0");
    assert_eq!(
        merge(&local(0, None), Some(&other), &mut seen, NOW_MS),
        Action::Keep,
        "this replica already holds a newer login"
    );
    let mut unnamed = same.clone();
    unnamed.login = None;
    assert_eq!(
        merge(&local(0, None), Some(&unnamed), &mut seen, NOW_MS),
        Action::Keep
    );
}

#[test]
fn an_ended_cooldown_is_not_adopted() {
    let mut seen = Seen::default();
    let ended = cooling(NOW_MS);
    assert_eq!(
        merge(&local(0, None), Some(&ended), &mut seen, NOW_MS),
        Action::Keep
    );
}

fn quota(observed_at: i64) -> Quota {
    Quota {
        observed_at,
        ..Quota::default()
    }
}

#[test]
fn the_newer_quota_reading_wins() {
    let (old, new) = (quota(10), quota(20));
    assert_eq!(
        merge_quota(Some(&new), Some(&old), Some(&old)),
        QuotaAction::Publish(new.clone()),
        "ours changed here and is newer"
    );
    assert_eq!(
        merge_quota(Some(&old), Some(&new), None),
        QuotaAction::Keep,
        "ours changed here but the store's is newer: not overwritten"
    );
    assert_eq!(
        merge_quota(Some(&old), Some(&new), Some(&old)),
        QuotaAction::Adopt(new.clone())
    );
    assert_eq!(
        merge_quota(Some(&new), Some(&old), Some(&new)),
        QuotaAction::Keep
    );
    assert_eq!(merge_quota(None, Some(&new), None), QuotaAction::Adopt(new));
}

#[test]
fn the_stored_form_is_the_one_other_versions_read() {
    let v = Published {
        state: Verdict::NeedsRelogin,
        until_ms: None,
        usage_limited: false,
        reason: "refresh_token_reused".into(),
        login: Some("d".into()),
    };
    let text = serde_json::to_string(&v).unwrap();
    assert_eq!(
        text,
        r#"{"state":"needs_relogin","until_ms":null,"usage_limited":false,"reason":"refresh_token_reused","login":"d"}"#
    );
    let unknown = r#"{"state":"asleep","reason":"x"}"#;
    assert_eq!(parsed::<Published>(&[Some(unknown.into())], 0), None);
}

#[tokio::test(start_paused = true)]
async fn an_account_shows_its_cooldown_and_takes_on_another_replicas() {
    let a = Account::detached("a");
    let now = Instant::now();
    a.health().on_setback(
        &Setback::Transient {
            kind: "server_error",
            retry_after: None,
        },
        now,
        Duration::from_secs(5),
        Duration::from_secs(300),
    );
    let view = a.replica_view(Some("d".into()), now, NOW_MS);
    let (v, ttl) = view.verdict.unwrap();
    assert_eq!(
        (v.state, v.until_ms),
        (Verdict::Cooling, Some(NOW_MS + 5_000))
    );
    assert_eq!(ttl, Some(Duration::from_secs(5)));
    assert_eq!(view.generation, 1);
    a.adopt(
        &Action::Adopt(Adoption {
            state: State::Disabled,
            left: None,
            reason: "usage_not_included".into(),
            usage_limited: false,
        }),
        now,
    );
    assert_eq!(a.health().state(), State::Disabled);
    assert_eq!(a.health().generation(), 1, "adopting is not our news");
    a.adopt(&Action::AdoptReady, now);
    assert_eq!(a.health().state(), State::Ready);
}
