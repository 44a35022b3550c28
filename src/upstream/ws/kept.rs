//! Upstream sockets kept between the turns of HTTP conversations
//! (`proxy::bridge`, docs/websocket.md): at most one per conversation, a
//! bounded number per account and in all, each with what the conversation
//! last sent and got on it (`Thread`), so the next turn can be a
//! continuation. A turn checks its socket out (`Lease`) and puts it back when
//! the answer ends; a lease dropped instead closes its socket. Idle sockets
//! are pinged, and closed once idle or old (`sweep`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::time::Instant;

use super::Socket;
use crate::sync::lock;

/// How often idle sockets are looked at (pinged, closed when idle or old),
/// at most: twice per idle timeout when that is shorter.
const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// An idle socket is pinged this often (inside the 20–30 s proxies allow).
const PING_EVERY: Duration = Duration::from_secs(25);

/// After upstream refused an upgrade, HTTP conversations stay on HTTP this long.
const REFUSED_FOR: Duration = Duration::from_secs(10 * 60);

/// A socket this old gets no more turns (the backend ends it at 60 minutes).
pub const MAX_AGE: Duration = Duration::from_secs(55 * 60);

/// What a conversation last sent and got on its socket, as digests: enough
/// to tell whether its next input extends it (`proxy/bridge/items.rs`).
#[derive(Debug, Clone, Default)]
pub struct Thread {
    /// The response the next turn continues.
    pub response_id: String,
    /// Every field of the request but its input.
    pub rest: u64,
    /// Each input item's bytes.
    pub input: Vec<u64>,
    /// The answer's output items, as a client sends them back.
    pub output: Vec<Out>,
}

/// One output item: its digest, and whether a client may leave it out
/// (a reasoning item, which chat clients never send back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Out {
    pub digest: u64,
    pub optional: bool,
}

/// The bounds, from `[upstream] bridge_*`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub per_account: usize,
    pub total: usize,
    pub idle: Duration,
}

struct Entry {
    account: Arc<str>,
    /// `None` while a turn has it checked out.
    socket: Option<Socket>,
    thread: Option<Thread>,
    used: Instant,
    pinged: Instant,
}

struct Inner {
    entries: HashMap<u64, Entry>,
    per_account: HashMap<Arc<str>, usize>,
    total: usize,
    idle: Duration,
    sweeping: bool,
    refused_until: Option<Instant>,
}

struct Shared {
    inner: Mutex<Inner>,
    gauge: prometheus::IntGauge,
}

/// The table (one per process, `App::bridge`; clones share it).
#[derive(Clone)]
pub struct Kept(Arc<Shared>);

/// A socket checked out by one turn (or a reserved place for one being
/// opened). Put it back with `Kept::put`; dropped, it closes and frees its place.
pub struct Lease {
    shared: Weak<Shared>,
    conversation: u64,
    pub account: Arc<str>,
    pub socket: Option<Socket>,
    counted: bool,
}

impl Kept {
    /// `gauge` counts the open kept sockets.
    pub fn new(gauge: prometheus::IntGauge) -> Kept {
        Kept(Arc::new(Shared {
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                per_account: HashMap::new(),
                total: 0,
                idle: Duration::from_secs(300),
                sweeping: false,
                refused_until: None,
            }),
            gauge,
        }))
    }

    /// The conversation's socket and thread, checked out; `None` when it has
    /// none, or a turn of it has the socket now (`busy`).
    pub fn take(&self, conversation: u64) -> Taken {
        let mut inner = lock(&self.0.inner);
        let Some(entry) = inner.entries.get_mut(&conversation) else {
            return Taken::None;
        };
        let Some(socket) = entry.socket.take() else {
            return Taken::Busy;
        };
        entry.used = Instant::now();
        Taken::Some(
            Box::new(Lease {
                shared: Arc::downgrade(&self.0),
                conversation,
                account: Arc::clone(&entry.account),
                socket: Some(socket),
                counted: true,
            }),
            entry.thread.take(),
        )
    }

    /// A place for a new socket of `account` for `conversation`, within the
    /// limits; `None` at a limit. The conversation is busy until the lease
    /// is put back or dropped.
    pub fn reserve(&self, conversation: u64, account: &str, limits: Limits) -> Option<Lease> {
        let mut inner = lock(&self.0.inner);
        inner.idle = limits.idle;
        if inner.entries.contains_key(&conversation) {
            return None;
        }
        let mine = inner.per_account.get(account).copied().unwrap_or(0);
        if mine >= limits.per_account || inner.total >= limits.total {
            return None;
        }
        let account: Arc<str> = Arc::from(account);
        *inner.per_account.entry(Arc::clone(&account)).or_insert(0) += 1;
        inner.total += 1;
        let now = Instant::now();
        inner.entries.insert(
            conversation,
            Entry {
                account: Arc::clone(&account),
                socket: None,
                thread: None,
                used: now,
                pinged: now,
            },
        );
        if !inner.sweeping {
            inner.sweeping = true;
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(sweeper(Arc::downgrade(&self.0)));
            }
        }
        self.0.gauge.inc();
        Some(Lease {
            shared: Arc::downgrade(&self.0),
            conversation,
            account,
            socket: None,
            counted: true,
        })
    }

    /// Puts a turn's socket back with what the conversation now holds
    /// (`None`: the next turn is a full request).
    pub fn put(&self, mut lease: Lease, thread: Option<Thread>) {
        let Some(socket) = lease.socket.take() else {
            return;
        };
        let mut inner = lock(&self.0.inner);
        let Some(entry) = inner.entries.get_mut(&lease.conversation) else {
            return;
        };
        let now = Instant::now();
        entry.socket = Some(socket);
        entry.thread = thread;
        entry.used = now;
        lease.counted = false;
    }

    /// Upstream refused an upgrade: no new sockets for a while.
    pub fn refuse(&self, now: Instant) {
        lock(&self.0.inner).refused_until = Some(now + REFUSED_FOR);
    }

    /// Whether upstream refused an upgrade lately.
    pub fn refused(&self, now: Instant) -> bool {
        lock(&self.0.inner).refused_until.is_some_and(|t| now < t)
    }
}

/// What `Kept::take` found.
pub enum Taken {
    None,
    Busy,
    Some(Box<Lease>, Option<Thread>),
}

impl Drop for Lease {
    fn drop(&mut self) {
        if !self.counted {
            return;
        }
        if let Some(shared) = self.shared.upgrade() {
            let mut inner = lock(&shared.inner);
            forget(&mut inner, self.conversation, &self.account);
            shared.gauge.dec();
        }
        if let Some(socket) = self.socket.take() {
            close_later(socket);
        }
    }
}

/// Frees a conversation's place (its socket is closed by the caller).
fn forget(inner: &mut Inner, conversation: u64, account: &str) {
    inner.entries.remove(&conversation);
    inner.total = inner.total.saturating_sub(1);
    if let Some(n) = inner.per_account.get_mut(account) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            inner.per_account.remove(account);
        }
    }
}

/// A polite close, off the caller's path (best effort).
fn close_later(socket: Socket) {
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn(socket.close());
    }
}

/// Every `SWEEP_EVERY` while the table lives: idle or old sockets closed,
/// the others pinged (and read, so a close from upstream is seen).
async fn sweeper(shared: Weak<Shared>) {
    loop {
        let every = match shared.upgrade() {
            Some(s) => SWEEP_EVERY.min(lock(&s.inner).idle / 2),
            None => return,
        };
        tokio::time::sleep(every).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let now = Instant::now();
        let (closing, pinging) = {
            let mut inner = lock(&shared.inner);
            let idle = inner.idle;
            let mut closing = Vec::new();
            let mut pinging = Vec::new();
            let keys: Vec<u64> = inner.entries.keys().copied().collect();
            for k in keys {
                let Some(e) = inner.entries.get_mut(&k) else {
                    continue;
                };
                let Some(s) = e.socket.as_ref() else { continue };
                if now.duration_since(e.used) >= idle || s.age() >= MAX_AGE {
                    let account = Arc::clone(&e.account);
                    if let Some(s) = e.socket.take() {
                        closing.push(s);
                    }
                    forget(&mut inner, k, &account);
                    shared.gauge.dec();
                } else if now.duration_since(e.pinged) >= PING_EVERY {
                    e.pinged = now;
                    if let Some(s) = e.socket.take() {
                        pinging.push((k, s));
                    }
                }
            }
            (closing, pinging)
        };
        for s in closing {
            s.close().await;
        }
        for (k, mut s) in pinging {
            let alive = s.ping().await.is_ok() && s.still_open().await;
            let mut inner = lock(&shared.inner);
            let Some(e) = inner.entries.get_mut(&k) else {
                continue;
            };
            if alive {
                e.socket = Some(s);
            } else {
                let account = Arc::clone(&e.account);
                forget(&mut inner, k, &account);
                shared.gauge.dec();
            }
        }
    }
}
