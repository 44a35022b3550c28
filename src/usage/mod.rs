//! Usage that is kept: every finished request adds to hourly rollups per
//! (client key, account, model, route, code), and becomes one access-log line.
//!
//! The request path only builds a `Record` and hands it to the `Recorder`
//! (a `try_send` on a bounded channel: never an await, never a failed
//! request). The writer task (`writer.rs`) owns everything slow: it folds
//! records into rollups and writes them in batches to SQLite (`db.rs`), to the
//! shared Redis when `[store]` is set (`store::usage`), and the access log
//! (`access.rs`). Reading the rollups back is `query.rs`.

mod access;
pub mod db;
pub mod query;
mod shared;
pub mod writer;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::{mpsc, Notify};

/// Records waiting for the writer; past this the newest are dropped (counted).
const QUEUE: usize = 8192;

/// Access-log records kept in memory for the console's activity tail.
const RECENT: usize = 500;

/// One finished request or WebSocket turn: what the access log says of it.
/// Never a token, key, prompt or answer: names, ids, counts and times.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Record {
    pub time: String,
    /// Unix seconds when the request ended (the rollup's hour comes from it).
    #[serde(skip)]
    pub unix: i64,
    pub request_id: String,
    pub gateway_request_id: String,
    pub route: &'static str,
    pub key: Option<String>,
    pub account: Option<String>,
    pub model: Option<String>,
    pub model_served: Option<String>,
    pub status: u16,
    pub code: &'static str,
    pub latency_ms: u64,
    pub ttfb_ms: Option<u64>,
    pub input_tokens: u64,
    pub cached_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
    pub affinity: Option<&'static str>,
    pub failovers: u32,
}

/// Where one rollup row belongs: the hour (unix seconds at its start) and the
/// request's key, account, model, route and code ("ok" for success).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Slot {
    pub hour: i64,
    pub key: String,
    pub account: String,
    pub model: String,
    pub route: String,
    pub code: String,
}

/// What a rollup row counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub requests: u64,
    pub input: u64,
    pub cached: u64,
    pub output: u64,
    pub reasoning: u64,
    pub failovers: u64,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.requests = self.requests.saturating_add(o.requests);
        self.input = self.input.saturating_add(o.input);
        self.cached = self.cached.saturating_add(o.cached);
        self.output = self.output.saturating_add(o.output);
        self.reasoning = self.reasoning.saturating_add(o.reasoning);
        self.failovers = self.failovers.saturating_add(o.failovers);
    }

    /// Tokens spent against a budget (input, cached included, plus output).
    pub fn tokens(&self) -> u64 {
        self.input.saturating_add(self.output)
    }
}

impl Record {
    /// The rollup row this record adds to, and what it adds. The model is the
    /// one served when known, else the one asked; "-" for what is missing.
    pub fn rollup(&self) -> (Slot, Counts) {
        let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        let model = self.model_served.clone().or_else(|| self.model.clone());
        let slot = Slot {
            hour: self.unix - self.unix.rem_euclid(3600),
            key: dash(&self.key),
            account: dash(&self.account),
            model: dash(&model),
            route: self.route.to_string(),
            code: self.code.to_string(),
        };
        let counts = Counts {
            requests: 1,
            input: self.input_tokens,
            cached: self.cached_tokens,
            output: self.output_tokens,
            reasoning: self.reasoning_tokens,
            failovers: u64::from(self.failovers),
        };
        (slot, counts)
    }
}

/// The request path's end of the writer's queue, and the recent records.
pub struct Recorder {
    tx: mpsc::Sender<Record>,
    rx: Mutex<Option<mpsc::Receiver<Record>>>,
    recent: Arc<Mutex<VecDeque<Arc<Record>>>>,
    /// Told when the queue is half full: the writer stops waiting for more.
    filling: Notify,
}

impl Default for Recorder {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        Recorder {
            tx,
            rx: Mutex::new(Some(rx)),
            recent: Arc::default(),
            filling: Notify::new(),
        }
    }
}

impl Recorder {
    /// Hands `record` to the writer; false when its queue is full (or no
    /// writer runs), and the record is lost. A writer gathering a batch is
    /// told when the queue is half full, so that it never fills waiting.
    pub fn record(&self, record: Record) -> bool {
        let sent = self.tx.try_send(record).is_ok();
        if self.tx.capacity() <= QUEUE / 2 {
            self.filling.notify_one();
        }
        sent
    }

    /// Resolves once the queue has been half full since the last call.
    pub(crate) async fn filling(&self) {
        self.filling.notified().await;
    }

    /// The writer's end of the queue: the first caller gets it.
    pub(crate) fn take_receiver(&self) -> Option<mpsc::Receiver<Record>> {
        self.rx.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// The last `limit` records, newest first.
    pub fn recent(&self, limit: usize) -> Vec<Arc<Record>> {
        let r = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        r.iter().rev().take(limit).cloned().collect()
    }

    pub(crate) fn remember(&self, records: &[Arc<Record>]) {
        let mut r = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        for rec in records {
            if r.len() == RECENT {
                r.pop_front();
            }
            r.push_back(Arc::clone(rec));
        }
    }
}
