//! Token budgets across replicas: what each replica spent, added to one
//! total per key and window in the shared store (`store::Redis`).

use std::sync::Arc;

use super::ClientKey;

/// Token budgets across replicas: `budget:<key>:<hour|day>:<window>` count
/// the tokens all replicas spent in a wall-clock hour or day; each replica adds
/// what it spent every 250 ms and reads the totals back in the same round
/// trip, so the check before a request stays local.
impl crate::store::Redis {
    /// Adds what each key with a budget spent here, and reads the totals.
    pub async fn sync_budgets(&self, keys: &[Arc<ClientKey>]) {
        let now = crate::clock::unix_now().max(0) as u64;
        let (hour, day) = (now / 3600, now / 86_400);
        let budgeted: Vec<&Arc<ClientKey>> = keys
            .iter()
            .filter(|k| k.config.tokens_per_hour.is_some() || k.config.tokens_per_day.is_some())
            .collect();
        if budgeted.is_empty() {
            return;
        }
        let mut taken = Vec::with_capacity(budgeted.len());
        let mut pipe = redis::pipe();
        for k in &budgeted {
            let unsent = {
                let mut s = k.state.shared.lock().unwrap_or_else(|p| p.into_inner());
                std::mem::take(&mut s.unsent)
            };
            taken.push(unsent);
            let name = k.name();
            let h = self.key("budget", &format!("{name}:hour:{hour}"));
            let d = self.key("budget", &format!("{name}:day:{day}"));
            pipe.cmd("INCRBY").arg(&h).arg(unsent);
            pipe.cmd("EXPIRE").arg(&h).arg(2 * 3600).ignore();
            pipe.cmd("INCRBY").arg(&d).arg(unsent);
            pipe.cmd("EXPIRE").arg(&d).arg(2 * 86_400).ignore();
        }
        let totals: Result<Vec<u64>, _> = self.call(&pipe).await;
        for (i, k) in budgeted.iter().enumerate() {
            let mut s = k.state.shared.lock().unwrap_or_else(|p| p.into_inner());
            match &totals {
                Ok(t) => {
                    s.hour = t.get(2 * i).map(|v| (hour, *v));
                    s.day = t.get(2 * i + 1).map(|v| (day, *v));
                }
                // Not counted there: spend it again next round.
                Err(_) => s.unsent = s.unsent.saturating_add(taken[i]),
            }
        }
    }
}
