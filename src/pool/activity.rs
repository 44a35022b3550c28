//! The last N routing decisions, for `GET /admin/pool/activity`.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;

use crate::sync::lock;

#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    /// RFC 3339.
    pub time: String,
    /// The id the client knows the request by (its `x-request-id`, else ours).
    pub request_id: String,
    /// The gateway's own id: unique, whatever the client sent.
    pub gateway_request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    pub route: &'static str,
    pub strategy: &'static str,
    pub model: String,
    pub attempts: Vec<Attempt>,
    /// The account that served, if any did.
    pub served_by: Option<String>,
    /// How the account was chosen: `new`, `kept`, `moved (<why>)` (empty when
    /// no account served; `off` when affinity is disabled).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub affinity: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub account: String,
    /// `ok` or the failure kind (`usage_limited`, `server_error`, …).
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub millis: u64,
}

pub struct Activity {
    capacity: usize,
    entries: Mutex<VecDeque<Decision>>,
}

impl Activity {
    pub fn new(capacity: usize) -> Self {
        Activity {
            capacity: capacity.max(1),
            entries: Mutex::new(VecDeque::with_capacity(capacity.clamp(1, 1024))),
        }
    }

    pub fn record(&self, decision: Decision) {
        let mut e = lock(&self.entries);
        while e.len() >= self.capacity {
            e.pop_front();
        }
        e.push_back(decision);
    }

    /// Newest first.
    pub fn recent(&self, limit: usize) -> Vec<Decision> {
        let e = lock(&self.entries);
        e.iter().rev().take(limit).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(id: &str) -> Decision {
        Decision {
            time: String::new(),
            request_id: id.into(),
            gateway_request_id: id.into(),
            affinity: String::new(),
            api_key: None,
            route: "chat",
            strategy: "primary_first",
            model: "m".into(),
            attempts: vec![],
            served_by: None,
        }
    }

    #[test]
    fn keeps_the_newest_n() {
        let a = Activity::new(2);
        a.record(d("1"));
        a.record(d("2"));
        a.record(d("3"));
        let ids: Vec<_> = a.recent(10).into_iter().map(|d| d.request_id).collect();
        assert_eq!(ids, ["3", "2"]);
    }
}
