//! Per-account health: a small circuit breaker.
//!
//! ready → cooling (until a reset time, or exponential backoff) → probation (the
//! cooldown has passed; one request decides) → ready or cooling again.
//! `disabled` (plan without Codex, or an operator's choice) and `needs_relogin`
//! (the issuer refused the refresh token, or the file holds no usable login)
//! stay until something outside changes them. Upstream refusing a login the
//! issuer just renewed is not that verdict: it cools for `backoff_max`, and the
//! probe after it finds out whether upstream takes the login again.
//! Time is tokio's, so tests can pause the clock.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::auth::refresh::RefreshError;

/// The reason an account shows while its token cannot be renewed for want
/// of the shared store.
const STORE_UNAVAILABLE: &str = "store unavailable";

/// The longest any account cools, whatever upstream hints (a weekly window,
/// and a day); upstream's own hints are clamped to it as they are read.
pub const LONGEST_COOLDOWN: Duration = Duration::from_secs(8 * 24 * 3600);

/// The state shown to operators (`/admin/accounts`, metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Ready,
    Cooling,
    Disabled,
    NeedsRelogin,
}

impl State {
    pub const ALL: [State; 4] = [
        State::Ready,
        State::Cooling,
        State::Disabled,
        State::NeedsRelogin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Ready => "ready",
            State::Cooling => "cooling",
            State::Disabled => "disabled",
            State::NeedsRelogin => "needs_relogin",
        }
    }
}

/// Why an account stopped serving for a while.
#[derive(Debug, Clone, PartialEq)]
pub enum Setback {
    /// The subscription window is spent until this wall-clock time.
    UsageLimited { resets_at: SystemTime },
    /// The plan does not include Codex.
    UsageNotIncluded,
    /// A transient failure: throttled, 5xx, Cloudflare, network. `kind` is its label.
    Transient {
        kind: &'static str,
        retry_after: Option<Duration>,
    },
    /// Upstream refused the login (401) even right after the issuer renewed
    /// it. Only the issuer can say a login is dead, so this cools the account
    /// for the longest backoff (`pool.backoff_max`) at once: an earlier retry
    /// would spend another refresh for another 401.
    LoginRejected,
    /// The login is dead: a new login is needed.
    NeedsRelogin { reason: String },
    /// Not the account's fault: this replica's shared store is down and the
    /// token cannot be renewed without its lock (`auth::refresh`). Cools like
    /// a transient failure, and other replicas are not told (`replicas`).
    StoreUnavailable,
}

/// What a failed refresh does to its account: a dead login needs a new one;
/// an issuer that could not answer cools the account like any transient failure.
impl From<&RefreshError> for Setback {
    fn from(e: &RefreshError) -> Setback {
        match e {
            RefreshError::NeedsRelogin { reason } => Setback::NeedsRelogin {
                reason: reason.clone(),
            },
            RefreshError::StoreUnavailable => Setback::StoreUnavailable,
            RefreshError::Transient(_) => Setback::Transient {
                kind: "auth_failed",
                retry_after: None,
            },
        }
    }
}

#[derive(Debug, Clone)]
pub struct Health {
    state: State,
    reason: Option<String>,
    until: Option<Instant>,
    usage_limited: bool,
    failures_in_row: u32,
    /// The probe in flight, if any (its id, so a late release cannot end another's).
    probing: Option<u64>,
    probes: u64,
    admin_disabled: bool,
    /// Failures in a row that were not the account's fault, each from a
    /// request with a body unlike the one before (outlier detection).
    suspects_in_row: u32,
    /// The body digest of the last such failure.
    last_suspect: Option<u64>,
    /// Bumped by every change this replica makes itself (not by `adopt`), so
    /// the shared store's sync (`store::health`) tells its own news from others'.
    generation: u64,
    /// The cooldown is for want of the shared store (`Setback::StoreUnavailable`):
    /// this replica's trouble, which other replicas are not told of.
    store_outage: bool,
}

/// Whether one account may take a request now.
#[derive(Debug, Clone, PartialEq)]
pub enum Availability {
    Ready,
    /// The cooldown has passed and no probe is running: the next request decides.
    Probation,
    Cooling {
        until: Instant,
        usage_limited: bool,
        reason: String,
    },
    /// A probe request is in flight; others wait for its verdict.
    Probing,
    Disabled {
        reason: String,
    },
    NeedsRelogin {
        reason: String,
    },
}

impl Availability {
    pub fn usable(&self) -> bool {
        matches!(self, Availability::Ready | Availability::Probation)
    }
}

impl Default for Health {
    fn default() -> Self {
        Health {
            state: State::Ready,
            reason: None,
            until: None,
            usage_limited: false,
            failures_in_row: 0,
            probing: None,
            probes: 0,
            admin_disabled: false,
            suspects_in_row: 0,
            last_suspect: None,
            generation: 0,
            store_outage: false,
        }
    }
}

impl Health {
    pub fn state(&self) -> State {
        self.state
    }

    /// The state to show operators: a cooldown that has run out is `ready`
    /// (the next request may use the account) even before a probe decides.
    pub fn shown_state(&self, now: Instant) -> State {
        match (self.state, self.until) {
            (State::Cooling, Some(until)) if until <= now => State::Ready,
            (state, _) => state,
        }
    }

    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    pub fn until(&self) -> Option<Instant> {
        self.until
    }

    pub fn usage_limited(&self) -> bool {
        self.usage_limited
    }

    /// Whether the state is a cooldown for want of the shared store.
    pub fn store_outage(&self) -> bool {
        self.store_outage
    }

    pub fn availability(&self, now: Instant) -> Availability {
        let reason = || self.reason.clone().unwrap_or_default();
        match self.state {
            State::Ready => Availability::Ready,
            State::Disabled => Availability::Disabled { reason: reason() },
            State::NeedsRelogin => Availability::NeedsRelogin { reason: reason() },
            State::Cooling => match self.until {
                Some(until) if until > now => Availability::Cooling {
                    until,
                    usage_limited: self.usage_limited,
                    reason: reason(),
                },
                _ if self.probing.is_some() => Availability::Probing,
                _ => Availability::Probation,
            },
        }
    }

    /// Takes the account for one attempt: `None` when it may not serve now,
    /// `Some(None)` when ready, `Some(Some(probe))` when this request is the one
    /// probe a cooled-down account gets (probation).
    pub(super) fn claim(&mut self, now: Instant) -> Option<Option<u64>> {
        match self.availability(now) {
            Availability::Ready => Some(None),
            Availability::Probation => {
                self.probes += 1;
                self.probing = Some(self.probes);
                Some(Some(self.probes))
            }
            _ => None,
        }
    }

    /// The probe ended without a verdict (its request went away): another may probe.
    pub(super) fn release(&mut self, probe: u64) {
        if self.probing == Some(probe) {
            self.probing = None;
        }
    }

    pub(super) fn on_success(&mut self) {
        self.probing = None;
        self.failures_in_row = 0;
        self.suspects_in_row = 0;
        self.last_suspect = None;
        if self.state == State::Cooling {
            self.state = State::Ready;
            self.store_outage = false;
            self.reason = None;
            self.until = None;
            self.usage_limited = false;
            self.generation += 1;
        }
    }

    pub(super) fn on_setback(
        &mut self,
        setback: &Setback,
        now: Instant,
        base: Duration,
        max: Duration,
    ) {
        self.probing = None;
        if self.admin_disabled {
            return;
        }
        match setback {
            Setback::UsageLimited { resets_at } => {
                let wait = resets_at
                    .duration_since(SystemTime::now())
                    .unwrap_or(Duration::ZERO)
                    .max(Duration::from_secs(1));
                let wait = wait.min(LONGEST_COOLDOWN);
                self.cool(now + wait, "usage_limit_reached".into(), true);
            }
            Setback::UsageNotIncluded => {
                self.set(
                    State::Disabled,
                    "usage_not_included: this plan does not include Codex",
                );
            }
            Setback::Transient { kind, retry_after } => {
                self.back_off(kind, *retry_after, now, (base, max));
            }
            Setback::StoreUnavailable => {
                self.back_off(STORE_UNAVAILABLE, None, now, (base, max));
                self.store_outage = true;
            }
            Setback::LoginRejected => {
                self.failures_in_row = self.failures_in_row.saturating_add(1);
                self.cool(
                    now + max.min(LONGEST_COOLDOWN),
                    "auth_rejected_after_refresh".into(),
                    false,
                );
            }
            Setback::NeedsRelogin { reason } => {
                self.set(State::NeedsRelogin, reason);
            }
        }
    }

    /// A failure that may not be the account's fault (5xx, timeout, a broken
    /// stream) from the request whose body digest is `request`: the account
    /// cools only once `threshold` such failures of different requests came in
    /// a row, or at once when the request was its `probe`. Returns whether it cooled.
    pub(super) fn on_suspect(
        &mut self,
        setback: &Setback,
        (request, threshold, probe): (u64, u32, bool),
        now: Instant,
        (base, max): (Duration, Duration),
    ) -> bool {
        if self.last_suspect != Some(request) {
            self.suspects_in_row = self.suspects_in_row.saturating_add(1);
            self.last_suspect = Some(request);
        }
        if !probe && self.suspects_in_row < threshold {
            return false;
        }
        self.suspects_in_row = 0;
        self.last_suspect = None;
        self.on_setback(setback, now, base, max);
        true
    }

    /// Exponential backoff from `base` to `max`, or upstream's `retry_after`
    /// when longer.
    fn back_off(
        &mut self,
        kind: &str,
        retry_after: Option<Duration>,
        now: Instant,
        (base, max): (Duration, Duration),
    ) {
        self.failures_in_row = self.failures_in_row.saturating_add(1);
        let exp = self.failures_in_row.saturating_sub(1).min(20);
        let backoff = base.saturating_mul(1u32 << exp).min(max);
        let wait = retry_after
            .map_or(backoff, |r| r.max(backoff))
            .min(LONGEST_COOLDOWN);
        self.cool(now + wait, kind.to_string(), false);
    }

    fn cool(&mut self, until: Instant, reason: String, usage_limited: bool) {
        self.store_outage = false;
        self.state = State::Cooling;
        self.until = Some(until);
        self.reason = Some(reason);
        self.usage_limited = usage_limited;
        self.generation += 1;
    }

    fn set(&mut self, state: State, reason: &str) {
        self.store_outage = false;
        self.state = state;
        self.reason = Some(reason.to_string());
        self.until = None;
        self.usage_limited = false;
        self.generation += 1;
    }

    /// How many changes this replica made itself.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Takes on a verdict another replica made (through the shared store):
    /// a cooldown until `until`, or a lasting state. Not counted as a change
    /// of ours; an operator's disable stays.
    pub(super) fn adopt(
        &mut self,
        state: State,
        until: Option<Instant>,
        reason: &str,
        usage_limited: bool,
    ) {
        if self.admin_disabled {
            return;
        }
        self.probing = None;
        self.store_outage = false;
        self.state = state;
        self.until = until;
        self.reason = Some(reason.to_string());
        self.usage_limited = usage_limited;
    }

    /// Back to ready because the replica whose verdict was adopted lifted it.
    pub(super) fn adopt_ready(&mut self) {
        if self.admin_disabled {
            return;
        }
        self.state = State::Ready;
        self.reason = None;
        self.until = None;
        self.usage_limited = false;
        self.probing = None;
        self.store_outage = false;
    }

    /// An operator's `disable`: stays until `enable`.
    pub(super) fn disable_by_admin(&mut self) {
        self.admin_disabled = true;
        self.set(State::Disabled, "disabled by an operator");
    }

    /// An operator's `enable`, or a fresh login: back to ready.
    pub(super) fn reset(&mut self) {
        *self = Health {
            generation: self.generation + 1,
            ..Health::default()
        };
    }

    /// A login that could not be loaded (missing or unsafe file).
    pub fn login_unusable(&mut self, reason: &str) {
        if !self.admin_disabled {
            self.set(State::NeedsRelogin, reason);
        }
    }

    /// The wall-clock time a cooldown ends.
    pub fn until_wall(&self, now: Instant) -> Option<SystemTime> {
        self.until
            .map(|u| SystemTime::now() + u.saturating_duration_since(now))
    }
}

#[cfg(test)]
mod tests;
