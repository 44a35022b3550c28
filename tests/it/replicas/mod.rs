//! The shared store (Redis): behaviours that exist in one gateway and across
//! replicas, written once and run against both (`on_both!`: the tests
//! `NAME::one_gateway` and `NAME::two_replicas`), and what only replicas do
//! (a Redis outage, logins carried by the store, TLS to a plain server).

mod affinity;
mod health;
mod logins;
mod logins_fresh;
mod rates;
mod store_values;

use crate::support::{chat, key_for, Gateway};

/// A chat request at `gw` with client key `name` (none for "").
async fn chat_as(gw: &Gateway, name: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let body = chat("gpt-5.4", "hi");
    if name.is_empty() {
        return gw.post("/v1/chat/completions", &body).await;
    }
    gw.post_as(&key_for(name), "/v1/chat/completions", &body)
        .await
}

/// The access tokens the mock upstream saw, in order.
fn bearers(mock: &crate::support::Mock) -> Vec<String> {
    mock.responses()
        .iter()
        .map(|s| s.header("authorization").unwrap_or("").to_string())
        .collect()
}
