//! The soak's clients: workers that send a seeded mix of chat, responses and
//! messages requests (half of them streamed) to the live replicas, and sort
//! every outcome: served, answered with a specific error envelope, or a
//! failure of the invariant (a 500, no envelope, a truncated stream, hung).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use super::Rng;

/// How long a request may take before it counts as hung.
pub const HUNG: Duration = Duration::from_secs(90);

/// Which replicas take new requests (by index), and how many requests each
/// has in flight (a replica is drained before it is restarted).
#[derive(Default)]
pub struct Routing {
    pub live: Vec<bool>,
    pub inflight: Vec<usize>,
}

#[derive(Default)]
pub struct Tally {
    /// outcome → count; outcomes starting with "FAIL" break the invariant.
    pub outcomes: BTreeMap<String, u64>,
    pub examples: Vec<String>,
}

impl Tally {
    fn note(&mut self, outcome: String, detail: impl FnOnce() -> String) {
        if outcome.starts_with("FAIL") && self.examples.len() < 10 {
            self.examples.push(detail());
        }
        *self.outcomes.entry(outcome).or_default() += 1;
    }

    pub fn failures(&self) -> u64 {
        self.outcomes
            .iter()
            .filter(|(k, _)| k.starts_with("FAIL"))
            .map(|(_, n)| n)
            .sum()
    }

    pub fn total(&self) -> u64 {
        self.outcomes.values().sum()
    }
}

/// One worker, until `stop`.
pub async fn worker(
    seed: u64,
    ports: Vec<u16>,
    routing: Arc<Mutex<Routing>>,
    tally: Arc<Mutex<Tally>>,
    stop: Arc<AtomicBool>,
) {
    let mut rng = Rng(seed);
    let c = super::fleet::client(HUNG);
    while !stop.load(Ordering::Relaxed) {
        let pick = {
            let mut r = routing.lock().expect("routing");
            let live: Vec<usize> = (0..r.live.len()).filter(|&i| r.live[i]).collect();
            if live.is_empty() {
                None
            } else {
                let i = live[rng.below(live.len() as u64) as usize];
                r.inflight[i] += 1;
                Some(i)
            }
        };
        let Some(i) = pick else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let route = rng.below(3);
        let stream = rng.below(2) == 1;
        let (outcome, detail) = one(&c, ports[i], route, stream).await;
        routing.lock().expect("routing").inflight[i] -= 1;
        tally.lock().expect("tally").note(outcome, || detail);
        tokio::time::sleep(Duration::from_millis(rng.below(40))).await;
    }
}

/// One request; its outcome class, and a line about it for a failure.
async fn one(c: &reqwest::Client, port: u16, route: u64, stream: bool) -> (String, String) {
    let (path, body, done) = match route {
        0 => (
            "/v1/chat/completions",
            json!({"model": "gpt-5.4", "stream": stream,
                "messages": [{"role": "user", "content": "soak"}]}),
            "[DONE]",
        ),
        1 => (
            "/v1/responses",
            json!({"model": "gpt-5.4", "stream": stream, "input": "soak"}),
            "response.completed",
        ),
        _ => (
            "/v1/messages",
            json!({"model": "gpt-5.4", "stream": stream, "max_tokens": 64,
                "messages": [{"role": "user", "content": "soak"}]}),
            "message_stop",
        ),
    };
    let kind = format!(
        "{}{}",
        path.trim_start_matches("/v1/"),
        if stream { " stream" } else { "" }
    );
    let sent = c
        .post(format!("http://127.0.0.1:{port}{path}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await;
    let resp = match sent {
        Ok(r) => r,
        Err(e) if e.is_timeout() => {
            return ("FAIL hung".into(), format!("{kind}: no answer in {HUNG:?}"))
        }
        Err(e) => return ("FAIL connection".into(), format!("{kind} on :{port}: {e}")),
    };
    let status = resp.status().as_u16();
    let text = match resp.text().await {
        Ok(t) => t,
        Err(e) if e.is_timeout() => {
            return (
                "FAIL hung".into(),
                format!("{kind}: body not finished in {HUNG:?}"),
            )
        }
        Err(e) => return ("FAIL body cut".into(), format!("{kind} {status}: {e}")),
    };
    if status == 200 {
        if !stream {
            return ("served".into(), String::new());
        }
        if text.contains(done) {
            return ("served".into(), String::new());
        }
        // A stream that failed after its first byte ends with an error event.
        if let Some(code) = stream_error(&text) {
            return (format!("stream error {code}"), String::new());
        }
        return (
            "FAIL truncated stream".into(),
            format!("{kind}: {}", tail(&text)),
        );
    }
    match envelope(&text) {
        Some(code) if status != 500 && code != "internal_error" && code != "api_error" => {
            (format!("{status} {code}"), String::new())
        }
        _ => (
            format!("FAIL {status}"),
            format!("{kind} {status}: {}", tail(&text)),
        ),
    }
}

/// The code of an error envelope (OpenAI's or Anthropic's).
fn envelope(text: &str) -> Option<String> {
    let v: Value = serde_json::from_str(text).ok()?;
    let e = v.get("error")?;
    e.get("code")
        .and_then(Value::as_str)
        .or_else(|| e.get("type").and_then(Value::as_str))
        .map(str::to_string)
}

/// The code of the error event a stream ended with.
fn stream_error(text: &str) -> Option<String> {
    text.rsplit("\n\n").find_map(|block| {
        let data = block.lines().find_map(|l| l.strip_prefix("data: "))?;
        let v: Value = serde_json::from_str(data).ok()?;
        let code = v
            .pointer("/error/code")
            .or_else(|| v.pointer("/error/type"))
            .or_else(|| v.get("code").filter(|_| v["type"] == "error"))
            .or_else(|| v.pointer("/response/error/code"))?;
        code.as_str().map(str::to_string)
    })
}

fn tail(text: &str) -> String {
    let start = text.len().saturating_sub(200);
    let start = (start..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    text[start..].replace('\n', "\\n")
}
