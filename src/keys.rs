//! Client keys: authentication, per-key request rate, token budgets, model
//! allow-lists. Only SHA-256 hashes of keys are held, compared in constant time.
//!
//! A key's `KeyState` (limiter, budget counters) is keyed by key name and
//! carried across reloads while its limits are unchanged.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::time::Instant;

use crate::config::ApiKeyConfig;

mod rate;
mod replicas;
mod spent;

/// Why a client key (or its absence) may not make a request. HTTP-free: the
/// server's error module maps each to a status and code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error("missing client key: send it as 'Authorization: Bearer KEY' or 'x-api-key: KEY'")]
    MissingKey,
    #[error("unknown client key")]
    UnknownKey,
    #[error("key {key:?} may not use model {model:?}; allowed: {}", allowed.join(", "))]
    ModelNotAllowed {
        key: String,
        model: String,
        allowed: Vec<String>,
    },
    #[error("key {key:?} is over its limit of {rpm} requests per minute")]
    RateLimited {
        key: String,
        rpm: u32,
        wait: Duration,
    },
    #[error("key {key:?} has used {used} of its {limit} tokens per {window}; the window ends in {} s", left.as_secs())]
    BudgetExceeded {
        key: String,
        window: &'static str,
        used: u64,
        limit: u64,
        left: Duration,
    },
}

impl Refusal {
    /// Whether the refusal is a rate or budget limit (counted as rate-limited).
    pub fn is_limit(&self) -> bool {
        matches!(
            self,
            Refusal::RateLimited { .. } | Refusal::BudgetExceeded { .. }
        )
    }
}

pub struct ClientKey {
    pub config: ApiKeyConfig,
    pub state: Arc<KeyState>,
}

pub struct KeyState {
    rpm: Option<u32>,
    limiter: Option<DefaultDirectRateLimiter>,
    /// Shared with the key's next state when only its rate changes.
    budget: Arc<Mutex<Budget>>,
    /// Until when the rate limiter refuses (set when it last refused), so a
    /// limited key is refused before its body is read.
    limited_until: Mutex<Option<Instant>>,
    /// With `[store]`: the budgets as all replicas spent them.
    pub shared: Mutex<SharedBudget>,
}

/// The token budgets across replicas (`store::rate`): the store's totals of
/// the current wall-clock hour and day, and what this replica spent since
/// it last told the store. Used instead of the local windows once the store
/// has answered; while it does not, the last totals plus what is spent here.
#[derive(Default)]
pub struct SharedBudget {
    pub unsent: u64,
    /// (window index: unix seconds / window length, tokens of all replicas).
    pub hour: Option<(u64, u64)>,
    pub day: Option<(u64, u64)>,
}

#[derive(Default)]
struct Budget {
    hour: Window,
    day: Window,
}

#[derive(Default)]
struct Window {
    start: Option<Instant>,
    tokens: u64,
}

impl Window {
    fn current(&mut self, now: Instant, len: Duration) -> &mut Window {
        if self.start.is_none_or(|s| now.duration_since(s) >= len) {
            self.start = Some(now);
            self.tokens = 0;
        }
        self
    }

    fn left(&self, now: Instant, len: Duration) -> Duration {
        self.start
            .map(|s| len.saturating_sub(now.duration_since(s)))
            .unwrap_or(len)
    }
}

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

impl KeyState {
    fn new(rpm: Option<u32>, budget: Arc<Mutex<Budget>>) -> KeyState {
        KeyState {
            rpm,
            limiter: rpm
                .and_then(NonZeroU32::new)
                .map(|n| RateLimiter::direct(Quota::per_minute(n))),
            budget,
            limited_until: Mutex::new(None),
            shared: Mutex::new(SharedBudget::default()),
        }
    }
}

/// Builds the keys of a new snapshot, reusing state by name where limits match.
pub fn build(configs: &[ApiKeyConfig], previous: &[Arc<ClientKey>]) -> Vec<Arc<ClientKey>> {
    let old: HashMap<&str, &Arc<KeyState>> = previous
        .iter()
        .map(|k| (k.config.name.as_str(), &k.state))
        .collect();
    configs
        .iter()
        .map(|c| {
            // Limiter state carries over while the rate is unchanged; spent
            // tokens carry over whatever changes.
            let state = match old.get(c.name.as_str()) {
                Some(s) if s.rpm == c.requests_per_minute => Arc::clone(s),
                Some(s) => Arc::new(KeyState::new(c.requests_per_minute, Arc::clone(&s.budget))),
                None => Arc::new(KeyState::new(c.requests_per_minute, Arc::default())),
            };
            Arc::new(ClientKey {
                config: c.clone(),
                state,
            })
        })
        .collect()
}

/// The key presented, or `None` in open solo mode (no keys configured).
pub fn authenticate(
    keys: &[Arc<ClientKey>],
    presented: Option<&str>,
) -> Result<Option<Arc<ClientKey>>, Refusal> {
    if keys.is_empty() {
        return Ok(None);
    }
    let Some(presented) = presented else {
        return Err(Refusal::MissingKey);
    };
    let hash: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
    let mut found = None;
    for k in keys {
        if bool::from(k.config.key_sha256.ct_eq(&hash)) {
            found = Some(Arc::clone(k));
        }
    }
    found.map(Some).ok_or(Refusal::UnknownKey)
}

impl ClientKey {
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The checks that need no body, run before it is read so a limited key
    /// costs nothing to refuse: a rate limit already hit (until its wait is
    /// over), then the token budgets. Neither spends anything.
    pub fn admit_request(&self) -> Result<(), Refusal> {
        let now = Instant::now();
        let until = *self
            .state
            .limited_until
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(until) = until.filter(|u| *u > now) {
            return Err(self.rate_limited(until - now));
        }
        if let Some(refusal) = self.over_shared_budget() {
            return Err(refusal);
        }
        let mut guard = self.state.budget.lock().unwrap_or_else(|p| p.into_inner());
        let b = &mut *guard;
        for (limit, window, len, label) in [
            (self.config.tokens_per_hour, &mut b.hour, HOUR, "hour"),
            (self.config.tokens_per_day, &mut b.day, DAY, "day"),
        ] {
            let Some(limit) = limit else { continue };
            let w = window.current(now, len);
            if w.tokens >= limit {
                return Err(Refusal::BudgetExceeded {
                    key: self.config.name.clone(),
                    window: label,
                    used: w.tokens,
                    limit,
                    left: w.left(now, len),
                });
            }
        }
        Ok(())
    }

    /// The allow-list, then one request of the rate, in one call (the
    /// gateway spends the rate at admission and checks the list once the
    /// body named the model: `server::ctx`).
    pub fn admit_model(&self, model: &str) -> Result<(), Refusal> {
        self.admit_listed(model)?;
        self.admit_rate_locally()
    }

    /// The key's model allow-list.
    pub fn admit_listed(&self, model: &str) -> Result<(), Refusal> {
        if let Some(models) = self
            .config
            .models
            .as_ref()
            .filter(|m| !m.iter().any(|m| m == model))
        {
            return Err(Refusal::ModelNotAllowed {
                key: self.config.name.clone(),
                model: model.to_string(),
                allowed: models.clone(),
            });
        }
        Ok(())
    }

    /// One request of the rate, counted in this process only.
    pub fn admit_rate_locally(&self) -> Result<(), Refusal> {
        let Some(limiter) = &self.state.limiter else {
            return Ok(());
        };
        let Err(not_until) = limiter.check() else {
            return Ok(());
        };
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        Err(self.refuse_for(wait))
    }

    /// The key's `requests_per_minute`, if it has one.
    pub fn rpm(&self) -> Option<u32> {
        self.state.rpm.filter(|n| *n > 0)
    }

    /// Refuses for `wait` (the rate is spent until then; shared limiters
    /// decide it elsewhere), so the next requests are refused before their body.
    pub fn refuse_for(&self, wait: Duration) -> Refusal {
        let wait = wait.max(Duration::from_millis(1));
        *self
            .state
            .limited_until
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + wait);
        self.rate_limited(wait)
    }

    /// Every per-request check, in order.
    pub fn admit(&self, model: &str) -> Result<(), Refusal> {
        self.admit_request()?;
        self.admit_model(model)
    }

    fn rate_limited(&self, wait: Duration) -> Refusal {
        Refusal::RateLimited {
            key: self.config.name.clone(),
            rpm: self.state.rpm.unwrap_or(0),
            wait,
        }
    }

    /// The budgets as all replicas spent them, once the store has told them
    /// (`None`: within them, or no store). Windows are wall-clock hours and days.
    fn over_shared_budget(&self) -> Option<Refusal> {
        let shared = self.state.shared.lock().unwrap_or_else(|p| p.into_inner());
        let now = crate::clock::unix_now().max(0) as u64;
        for (limit, window, len, label) in [
            (self.config.tokens_per_hour, shared.hour, HOUR, "hour"),
            (self.config.tokens_per_day, shared.day, DAY, "day"),
        ] {
            let (Some(limit), Some((index, total))) = (limit, window) else {
                continue;
            };
            let len = len.as_secs();
            let current = now / len;
            let used = shared.unsent + if index == current { total } else { 0 };
            if used >= limit {
                return Some(Refusal::BudgetExceeded {
                    key: self.config.name.clone(),
                    window: label,
                    used,
                    limit,
                    left: Duration::from_secs((current + 1) * len - now),
                });
            }
        }
        None
    }

    /// Counts tokens reported by upstream against the budgets.
    pub fn spend(&self, tokens: u64) {
        {
            let mut shared = self.state.shared.lock().unwrap_or_else(|p| p.into_inner());
            shared.unsent = shared.unsent.saturating_add(tokens);
        }
        let now = Instant::now();
        let mut b = self.state.budget.lock().unwrap_or_else(|p| p.into_inner());
        let h = b.hour.current(now, HOUR);
        h.tokens = h.tokens.saturating_add(tokens);
        let d = b.day.current(now, DAY);
        d.tokens = d.tokens.saturating_add(tokens);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, secret: &str) -> ApiKeyConfig {
        ApiKeyConfig {
            name: name.into(),
            key_sha256: Sha256::digest(secret.as_bytes()).into(),
            strategy: None,
            accounts: None,
            requests_per_minute: None,
            tokens_per_hour: None,
            tokens_per_day: None,
            models: None,
        }
    }

    #[test]
    fn authenticates_by_hash() {
        let keys = build(&[key("a", "sk-a-123456"), key("b", "sk-b-123456")], &[]);
        let k = authenticate(&keys, Some("sk-b-123456")).ok().flatten();
        assert_eq!(k.map(|k| k.config.name.clone()).as_deref(), Some("b"));
        assert_eq!(
            authenticate(&keys, Some("nope")).err(),
            Some(Refusal::UnknownKey)
        );
        assert_eq!(authenticate(&keys, None).err(), Some(Refusal::MissingKey));
        assert!(authenticate(&[], None).ok().flatten().is_none());
    }

    #[test]
    fn rate_limit_refuses_the_excess_and_state_survives_rebuild() {
        let mut c = key("a", "sk-a-123456");
        c.requests_per_minute = Some(2);
        let keys = build(std::slice::from_ref(&c), &[]);
        assert!(keys[0].admit("m").is_ok());
        assert!(keys[0].admit("m").is_ok());
        let e = keys[0].admit("m").err();
        assert!(
            matches!(e, Some(Refusal::RateLimited { rpm: 2, wait, .. }) if wait > Duration::ZERO),
            "{e:?}"
        );
        assert!(
            matches!(keys[0].admit_request(), Err(Refusal::RateLimited { .. })),
            "once limited, the key is refused before its body is read"
        );
        let rebuilt = build(&[c], &keys);
        assert!(
            rebuilt[0].admit("m").is_err(),
            "limiter state must carry over a reload"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn token_budget_per_hour() {
        let mut c = key("a", "sk-a-123456");
        c.tokens_per_hour = Some(100);
        let keys = build(&[c], &[]);
        keys[0].spend(100);
        assert!(matches!(
            keys[0].admit("m").err(),
            Some(Refusal::BudgetExceeded {
                window: "hour",
                used: 100,
                limit: 100,
                ..
            })
        ));
        tokio::time::advance(HOUR).await;
        assert!(keys[0].admit("m").is_ok());
    }

    #[test]
    fn model_allow_list() {
        let mut c = key("a", "sk-a-123456");
        c.models = Some(vec!["gpt-5.4".into()]);
        let keys = build(&[c], &[]);
        assert!(keys[0].admit("gpt-5.4").is_ok());
        let e = keys[0].admit("o3").err();
        assert!(matches!(e, Some(Refusal::ModelNotAllowed { .. })));
        assert!(e
            .map(|e| e.to_string().contains("gpt-5.4"))
            .unwrap_or(false));
    }
}
