//! A Responses WebSocket's life (docs/websocket.md): the backend's socket
//! age limit, an upstream that dies mid-turn, a client that stops reading,
//! the idle close, shutdown, the interrupt relay, and what 1,000 idle sockets
//! cost the gateway.

use std::time::Duration;

use super::*;
use crate::support::{metric, Gateway, Mock, Script, ADMIN};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

/// Reads until the close frame; its code.
async fn close_code(ws: &mut Ws) -> Option<u16> {
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
        if let Message::Close(f) = msg {
            return f.map(|f| u16::from(f.code));
        }
    }
    None
}

#[tokio::test]
async fn the_backends_socket_age_limit_is_met_with_a_fresh_socket_unseen() {
    let mock = Mock::start().await;
    mock.ws.lock().unwrap().max_age = Some(Duration::from_millis(300));
    let gw = Gateway::builder(&mock).accounts(&["a"]).start().await;
    let mut ws = open(&gw, "/v1/responses").await;
    assert_eq!(
        last(&turn(&mut ws, create(user("hi"))).await)["type"],
        "response.completed"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let events = turn(&mut ws, create(user("again"))).await;
    assert_eq!(last(&events)["type"], "response.completed", "{events:?}");
    let sockets: Vec<usize> = mock.ws_frames().iter().map(|f| f.socket).collect();
    assert_eq!(
        sockets,
        [1, 1, 2],
        "the refused frame resent on a new socket"
    );
    assert!(mock.ws_frames().iter().all(|f| f.account == "a"));
    gw.stop().await;
}

#[tokio::test]
async fn an_upstream_that_dies_mid_turn_ends_the_turn_with_a_retryable_error() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).accounts(&["a"]).start().await;
    let partial = vec![
        json!({"type": "response.created", "response": {"id": "r", "model": "gpt-5.4"}}),
        json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "message", "id": "m", "role": "assistant", "content": []}}),
        json!({"type": "response.output_text.delta", "item_id": "m", "output_index": 0, "content_index": 0, "delta": "Hel"}),
    ];
    mock.ws_script("a", Script::Stall(partial));
    let mut ws = open(&gw, "/v1/responses").await;
    let events = turn(&mut ws, create(user("hi"))).await;
    assert!(events
        .iter()
        .any(|e| e["type"] == "response.output_text.delta"));
    let e = last(&events);
    assert_eq!(e["type"], "error");
    assert_eq!(e["status"], 502);
    assert_eq!(e["error"]["code"], "upstream_stream_truncated");
    // The socket stays; the next turn gets a new upstream socket.
    assert_eq!(
        last(&turn(&mut ws, create(user("again"))).await)["type"],
        "response.completed"
    );
    let sockets: Vec<usize> = mock.ws_frames().iter().map(|f| f.socket).collect();
    assert_eq!(sockets, [1, 2]);
    gw.stop().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_and_its_upstream_socket_with_it() {
    let mock = Mock::start().await;
    // About 16 MB of events: more than the kernel's buffers hold.
    mock.ws.lock().unwrap().big_deltas = Some((4000, 4096));
    let gw = Gateway::builder(&mock)
        .accounts(&["a"])
        .toml("[upstream]\nidle_timeout = \"1s\"\n")
        .start()
        .await;
    let mut ws = open(&gw, "/v1/responses").await;
    ws.send(Message::text(create(user("hi")).to_string()))
        .await
        .unwrap();
    let mut closed = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let scrape = gw.get("/metrics", &[]).await.1;
        let open = metric(&scrape, "codex_pool_websockets_open", &[("side", "client")]);
        if open == Some(0.0) && mock.ws_sockets().0 == 0 {
            closed = true;
            break;
        }
    }
    assert!(
        closed,
        "the gateway gave up on the client and closed upstream: {:?}",
        mock.ws_sockets()
    );
    drop(ws);
    gw.stop().await;
}

#[tokio::test]
async fn an_idle_client_socket_is_closed_after_the_configured_time() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .accounts(&["a"])
        .toml("[server]\nwebsocket_idle_timeout = \"300ms\"\n")
        .start()
        .await;
    let mut ws = open(&gw, "/v1/responses").await;
    assert_eq!(close_code(&mut ws).await, Some(1000));
    gw.stop().await;
}

#[tokio::test]
async fn shutdown_closes_sockets_with_a_code_that_makes_clients_reconnect() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).accounts(&["a"]).start().await;
    let mut ws = open(&gw, "/v1/responses").await;
    assert_eq!(
        last(&turn(&mut ws, create(user("hi"))).await)["type"],
        "response.completed"
    );
    let stopping = tokio::spawn(gw.stop());
    assert_eq!(close_code(&mut ws).await, Some(1012));
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("shutdown within the drain time")
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(mock.ws_sockets().0, 0, "the upstream socket closed too");
}

#[tokio::test]
async fn an_interrupt_between_turns_goes_upstream_and_its_acknowledgement_back() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).accounts(&["a"]).start().await;
    let mut ws = open(&gw, "/v1/responses").await;
    turn(&mut ws, create(user("hi"))).await;
    let interrupt = json!({"type": "response.interrupt", "discard_partial_items": true});
    ws.send(Message::text(interrupt.to_string())).await.unwrap();
    let ack = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        ack.to_text().unwrap().contains("response.interrupted"),
        "{ack:?}"
    );
    assert_eq!(mock.ws_frames()[1].body, interrupt);
    gw.stop().await;
}

/// The gateway's resident memory in kB (this process: the test's clients
/// and the mock are in it too, so the figure is an upper bound).
fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn a_thousand_idle_sockets_stay_open_and_their_memory_is_reported() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).accounts(&["a"]).start().await;
    // Warm the allocator and the code paths first.
    let mut warm = open(&gw, "/v1/responses").await;
    turn(&mut warm, create(user("hi"))).await;
    let before = rss_kb();
    let mut sockets = Vec::new();
    for _ in 0..1000 {
        let mut ws = open(&gw, "/v1/responses").await;
        let prewarm = json!({"type": "response.create", "model": "gpt-5.4", "input": user("hi"), "generate": false});
        assert_eq!(
            last(&turn(&mut ws, prewarm).await)["type"],
            "response.completed"
        );
        sockets.push(ws);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = rss_kb();
    let per_socket = (after.saturating_sub(before)) * 1024 / 1000;
    println!("1000 idle sockets (client, gateway both sides, mock): {} kB; {per_socket} bytes per socket, all three sides together", after.saturating_sub(before));
    let scrape = gw.get("/metrics", &[]).await.1;
    assert_eq!(
        metric(&scrape, "codex_pool_websockets_open", &[("side", "client")]),
        Some(1001.0)
    );
    assert_eq!(
        metric(
            &scrape,
            "codex_pool_websockets_open",
            &[("side", "upstream")]
        ),
        Some(1001.0)
    );
    assert_eq!(mock.ws_sockets().0, 1001);
    drop(sockets);
    gw.stop().await;
}

#[tokio::test]
async fn a_disabled_account_moves_the_socket_at_its_next_turn() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .accounts(&["a", "b"])
        .admin(ADMIN)
        .start()
        .await;
    let mut ws = open(&gw, "/v1/responses").await;
    let first = turn(&mut ws, create(user("hi"))).await;
    let id = last(&first)["response"]["id"].as_str().unwrap().to_string();
    let r = gw
        .client()
        .post(gw.url("/admin/accounts/a/disable"))
        .header("authorization", "Bearer admin-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Its continuation cannot follow it; the full resend goes to b.
    let mut next = create(user("more"));
    next["previous_response_id"] = json!(id);
    let refused = turn(&mut ws, next).await;
    assert_eq!(
        last(&refused)["error"]["code"],
        "previous_response_not_found"
    );
    let served = turn(&mut ws, create(json!([user("hi")[0], user("more")[0]]))).await;
    assert_eq!(last(&served)["type"], "response.completed");
    let accounts: Vec<String> = mock.ws_frames().iter().map(|f| f.account.clone()).collect();
    assert_eq!(
        accounts,
        ["a", "b"],
        "nothing reached a after it was disabled"
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_config_reload_applies_from_the_next_turn_on_an_open_socket() {
    let mock = Mock::start().await;
    let secret = "sk-team-0123456789abcdef";
    let gw = Gateway::builder(&mock)
        .accounts(&["a"])
        .admin(ADMIN)
        .key("team", |k| k.secret(secret))
        .start()
        .await;
    let (mut ws, _) = connect(&gw, "/v1/responses", &[("x-api-key", secret)])
        .await
        .unwrap();
    assert_eq!(
        last(&turn(&mut ws, create(user("hi"))).await)["type"],
        "response.completed"
    );
    gw.reconfigure(|b| {
        b.accounts(&["a"])
            .admin(ADMIN)
            .key("team", |k| k.secret(secret).models(&["gpt-5.4-mini"]))
    });
    let (status, text) = gw.reload().await;
    assert_eq!(status, 200, "{text}");
    let refused = turn(&mut ws, create(user("again"))).await;
    assert_eq!(
        last(&refused)["error"]["code"],
        "model_not_allowed",
        "{refused:?}"
    );
    assert_eq!(
        mock.ws_frames().len(),
        1,
        "the refused turn never went upstream"
    );
    gw.stop().await;
}
