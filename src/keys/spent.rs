//! What a key has spent of its budgets, read and seeded: `/v1/usage` and the
//! console show it, and at start the usage store seeds it (so a restart does
//! not reset a budget).

use std::time::Duration;

use tokio::time::Instant;

use super::{ClientKey, DAY, HOUR};

impl ClientKey {
    /// Tokens spent in the current wall-clock hour and day before this
    /// process started (read from the usage store): windows not yet started
    /// start at those boundaries, holding them.
    pub fn seed_spent(&self, hour: u64, day: u64) {
        let unix = crate::clock::unix_now().max(0) as u64;
        let now = Instant::now();
        let mut b = self.state.budget.lock().unwrap_or_else(|p| p.into_inner());
        let b = &mut *b;
        for (w, tokens, len) in [(&mut b.hour, hour, HOUR), (&mut b.day, day, DAY)] {
            if w.start.is_some() || tokens == 0 {
                continue;
            }
            let into = Duration::from_secs(unix % len.as_secs());
            w.start = Some(now.checked_sub(into).unwrap_or(now));
            w.tokens = tokens;
        }
    }

    /// Tokens spent in the current hour and day windows (what the budgets
    /// count), with the seconds until each window ends.
    pub fn spent(&self) -> [(u64, u64); 2] {
        let now = Instant::now();
        let b = self.state.budget.lock().unwrap_or_else(|p| p.into_inner());
        let local = [(&b.hour, HOUR), (&b.day, DAY)].map(|(w, len)| {
            let live = w.start.is_some_and(|s| now.duration_since(s) < len);
            let tokens = if live { w.tokens } else { 0 };
            let left = if live { w.left(now, len) } else { len };
            (tokens, left.as_secs())
        });
        drop(b);
        let shared = self.state.shared.lock().unwrap_or_else(|p| p.into_inner());
        let unix = crate::clock::unix_now().max(0) as u64;
        let mut out = local;
        for (i, (window, len)) in [(shared.hour, 3600u64), (shared.day, 86_400)]
            .into_iter()
            .enumerate()
        {
            if let Some((index, total)) = window.filter(|(index, _)| *index == unix / len) {
                let team = total.saturating_add(shared.unsent);
                if team > out[i].0 {
                    out[i] = (team, (index + 1) * len - unix);
                }
            }
        }
        out
    }
}
