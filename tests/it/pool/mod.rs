//! The account pool end to end: strategies, failover per failure kind,
//! cooldowns and exhaustion, quota, conversation affinity, and what
//! upstream may send.

mod affinity;
mod cooldown;
mod failover;
mod quota;
mod strategies;
mod upstream_limits;

use reqwest::header::HeaderMap;

use crate::support::{chat, chat_stream, Gateway};

/// A chat request, not streamed.
async fn ask(gw: &Gateway) -> (u16, HeaderMap, String) {
    gw.post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await
}

/// A chat request, streamed.
async fn ask_stream(gw: &Gateway) -> (u16, HeaderMap, String) {
    gw.post("/v1/chat/completions", &chat_stream("gpt-5.4", "hi"))
        .await
}
