//! What the integration tests share: the gateway under test (in process, or
//! the real binary on port 0), the mock upstream that records every request,
//! fake logins, a real Redis, one gateway or two replicas as a deployment,
//! scrape readers, and waits that fail saying what they waited for.

/// Retries `$cond` (re-evaluated each time, `.await` allowed) every 50 ms
/// until it holds; after `within SECS` (default 10) panics with the message,
/// whose arguments are evaluated then, so they can show the last state.
macro_rules! eventually {
    (within $secs:expr; $cond:expr, $($msg:tt)+) => {{
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs($secs);
        loop {
            if $cond {
                break;
            }
            if std::time::Instant::now() >= deadline {
                panic!("not within {} s: {}", $secs, format!($($msg)+));
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }};
    ($cond:expr, $($msg:tt)+) => {
        eventually!(within 10; $cond, $($msg)+)
    };
}

#[macro_use]
pub mod deploy;

pub mod builder;
pub mod cli;
pub mod gateway;
pub mod login;
pub mod mock;
pub mod process;
pub mod redis_server;
pub mod scrape;

use std::time::Duration;

pub use builder::{key_for, Builder};
pub use deploy::{Deployed, Deployment};
pub use gateway::Gateway;
pub use login::{access_token, write_auth, Login};
pub use mock::{Mock, Script};
pub use scrape::*;

pub use mock::login::now;

use serde_json::{json, Value};

/// The admin token of gateways built with `.admin(ADMIN)`.
pub const ADMIN: &str = "admin-secret";

/// A loopback client: no proxy, and a generous timeout so a hung gateway
/// fails the test instead of hanging it.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// A one-message chat completion body.
pub fn chat(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

/// `chat`, streamed.
pub fn chat_stream(model: &str, text: &str) -> Value {
    let mut body = chat(model, text);
    body["stream"] = json!(true);
    body
}

/// The `data:` payloads of an SSE body (without `[DONE]`).
pub fn sse_data(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter_map(|block| {
            let data: Vec<&str> = block
                .lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .collect();
            if data.is_empty() || data == ["[DONE]"] {
                return None;
            }
            serde_json::from_str(&data.join("\n")).ok()
        })
        .collect()
}

/// The text content of a streamed chat completion's chunks.
pub fn streamed_content(text: &str) -> String {
    sse_data(text)
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect()
}

/// A 429 `usage_limit_reached` answer whose limit resets `resets_in` seconds from now.
pub fn usage_limit(resets_in: u64) -> Script {
    Script::Status(
        429,
        json!({"error": {"type": "usage_limit_reached", "message": "The usage limit has been reached", "plan_type": "plus",
            "resets_at": now() + resets_in}})
        .to_string(),
        vec![],
    )
}

/// A stream that fails after its first output: created, one text delta,
/// then `response.failed`.
pub fn failing_stream() -> Vec<Value> {
    vec![
        json!({"type": "response.created", "response": {"id": "resp_f", "model": "gpt-5.4"}}),
        json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "message", "id": "msg_1", "role": "assistant", "content": []}}),
        json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "Hel"}),
        json!({"type": "response.failed", "response": {"id": "resp_f", "status": "failed", "error": {"code": "server_error", "message": "upstream broke"}}}),
    ]
}

/// A 401 from upstream: the access token is no longer taken.
pub fn unauthorized() -> Script {
    Script::Status(
        401,
        json!({"error": {"message": "expired"}}).to_string(),
        vec![],
    )
}

/// A plain answer with this status and body.
pub fn plain(code: u16, body: &str) -> Script {
    Script::Status(code, body.to_string(), vec![])
}
