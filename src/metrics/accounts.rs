//! The per-account series: state, quota windows, cooldowns and token
//! expiry read from live state at each scrape, and the series pre-created
//! for every account and key so dashboards see zeros, not gaps.

use std::sync::Arc;

use tokio::time::Instant;

use super::Metrics;
use crate::clock;
use crate::pool::{Account, State};

impl Metrics {
    /// Refreshes the account gauges from live state.
    pub(super) fn observe_accounts(&self, accounts: &[Arc<Account>]) {
        self.account_state.reset();
        self.quota_used.reset();
        self.quota_reset.reset();
        self.cooldown_until.reset();
        self.token_expiry.reset();
        self.unsaved_login.reset();
        self.backup_failed.reset();
        self.login_unreadable.reset();
        let now = Instant::now();
        for a in accounts {
            let name = a.name.as_str();
            let (state, until) = {
                let h = a.health();
                let state = if a.settings().enabled {
                    h.shown_state(now)
                } else {
                    State::Disabled
                };
                (state, h.until_wall(now))
            };
            for s in State::ALL {
                self.account_state
                    .with_label_values(&[name, s.as_str()])
                    .set(i64::from(s == state));
            }
            let until = until
                .filter(|_| state == State::Cooling)
                .map_or(0, clock::unix);
            self.cooldown_until
                .with_label_values(&[name])
                .set(until as f64);
            self.unsaved_login
                .with_label_values(&[name])
                .set(i64::from(a.has_unsaved_login()));
            self.backup_failed
                .with_label_values(&[name])
                .set(i64::from(a.tokens.mirror.backup_failed()));
            self.login_unreadable
                .with_label_values(&[name])
                .set(i64::from(a.tokens.mirror.unreadable()));
            if let Some(exp) = a.credentials().and_then(|c| c.expires_at) {
                self.token_expiry.with_label_values(&[name]).set(exp as f64);
            }
            if let Some(q) = a.quota() {
                for (window, w) in [("primary", &q.primary), ("secondary", &q.secondary)] {
                    if let Some(w) = w {
                        self.quota_used
                            .with_label_values(&[name, window])
                            .set(w.used_percent);
                        if let Some(r) = w.resets_at {
                            self.quota_reset
                                .with_label_values(&[name, window])
                                .set(r as f64);
                        }
                    }
                }
            }
        }
    }

    /// Pre-creates per-account and per-key series so dashboards see zeros, not gaps.
    pub fn touch(&self, accounts: &[Arc<Account>], keys: &[String]) {
        for a in accounts {
            for outcome in [
                "ok",
                "usage_limited",
                "rate_limited",
                "auth_failed",
                "server_error",
            ] {
                self.upstream_attempts
                    .with_label_values(&[&a.name, outcome]);
            }
            for outcome in ["ok", "failed", "needs_relogin"] {
                self.refreshes.with_label_values(&[&a.name, outcome]);
            }
        }
        for k in keys {
            self.client_rate_limited.with_label_values(&[k]);
        }
        for outcome in ["ok", "invalid"] {
            self.config_reloads.with_label_values(&[outcome]);
        }
        for outcome in ["new", "kept", "moved"] {
            self.affinity.with_label_values(&[outcome]);
        }
        for a in accounts {
            self.blobs_stripped.with_label_values(&[&a.name]);
        }
    }
}
