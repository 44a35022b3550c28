//! The refresh flights running now, so shutdown can wait for them.
//!
//! A flight runs in a task of its own (`refresh.rs`): once the issuer may have
//! rotated the refresh token, the new one must reach the file even if the
//! request that started the flight is gone. Dropping the runtime would still
//! cancel it, so `App` owns a `Flights`, each flight holds a `Ticket` for its
//! whole life, and `run_app` (`src/lib.rs`) waits, bounded, until none is left.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

/// Counts the flights in progress.
#[derive(Default)]
pub struct Flights {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    running: AtomicUsize,
    idle: Notify,
}

/// Held by one flight; counted until dropped.
pub struct Ticket {
    inner: Arc<Inner>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.inner.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.inner.idle.notify_waiters();
        }
    }
}

impl Flights {
    /// Counts one more flight until the ticket is dropped.
    pub fn start(&self) -> Ticket {
        self.inner.running.fetch_add(1, Ordering::AcqRel);
        Ticket {
            inner: Arc::clone(&self.inner),
        }
    }

    /// How many flights are in progress.
    pub fn running(&self) -> usize {
        self.inner.running.load(Ordering::Acquire)
    }

    /// Waits until no flight is in progress, at most `limit`; true if none is.
    pub async fn wait_idle(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.inner.idle.notified();
            tokio::pin!(notified);
            // Registered before the count is read, so a last ticket dropped
            // in between still wakes us.
            notified.as_mut().enable();
            if self.running() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.running() == 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn waits_for_the_last_ticket_and_no_longer_than_the_limit() {
        let flights = Flights::default();
        assert!(flights.wait_idle(Duration::from_secs(1)).await);
        let (a, b) = (flights.start(), flights.start());
        assert!(!flights.wait_idle(Duration::from_secs(1)).await);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            drop(a);
            tokio::time::sleep(Duration::from_secs(2)).await;
            drop(b);
        });
        let started = tokio::time::Instant::now();
        assert!(flights.wait_idle(Duration::from_secs(35)).await);
        assert_eq!(started.elapsed(), Duration::from_secs(4));
        assert_eq!(flights.running(), 0);
    }
}
