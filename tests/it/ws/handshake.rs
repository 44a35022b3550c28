//! The upstream handshake: a turn-state token in its `101` reaches the
//! client (as the `response.metadata` frame that carries it otherwise), and
//! a `401` is met with one token refresh and a second handshake.

use super::*;
use crate::support::{Gateway, Mock};

#[tokio::test]
async fn a_turn_state_in_the_upstream_101_reaches_the_client() {
    let mock = Mock::start().await;
    mock.ws.lock().unwrap().handshake_turn_state = Some("ts-from-101".into());
    let gw = Gateway::builder(&mock).accounts(&["a"]).start().await;
    let mut ws = open(&gw, "/v1/responses").await;
    let events = turn(&mut ws, create(user("hi"))).await;
    assert_eq!(events[0]["type"], "response.metadata", "{events:?}");
    assert_eq!(events[0]["headers"]["x-codex-turn-state"], "ts-from-101");
    assert_eq!(last(&events)["type"], "response.completed");
    // Only a fresh socket's handshake: the next turn has the turn's own token only.
    let next = turn(&mut ws, create(user("more"))).await;
    assert!(next
        .iter()
        .all(|e| e["headers"]["x-codex-turn-state"] != "ts-from-101"));
}

#[tokio::test]
async fn an_upstream_handshake_401_refreshes_the_login_once_and_retries() {
    let mock = Mock::start().await;
    mock.ws.lock().unwrap().unauthorized_upgrades = 1;
    let gw = Gateway::builder(&mock).accounts(&["a"]).start().await;
    let mut ws = open(&gw, "/v1/responses").await;
    let events = turn(&mut ws, create(user("hi"))).await;
    assert_eq!(last(&events)["type"], "response.completed", "{events:?}");
    assert_eq!(mock.token_calls().len(), 1, "one refresh");
    let frames = mock.ws_frames();
    assert_eq!(
        frames.len(),
        1,
        "the turn went once, on the second handshake"
    );
    assert_eq!(mock.ws_sockets().1, 1, "one socket opened");
}
