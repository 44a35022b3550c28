//! The Responses API over WebSocket (docs/websocket.md), end to end against
//! the mock's WebSocket: what reached upstream (socket, account, token,
//! continuation or full request), failover the client never sees,
//! `previous_response_not_found` for a continuation that must move, the
//! refusals, and the HTTP fallback.

use std::time::Duration;

use super::*;
use crate::support::{metric, now, Gateway, Mock};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn turns_on_one_socket_reach_upstream_on_one_socket_with_the_accounts_token() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).accounts(&["a"]).start().await;
    let (mut ws, resp) = connect(&gw, "/v1/responses", &[]).await.unwrap();
    assert_eq!(resp.status(), 101);
    assert!(resp.headers().get("sec-websocket-protocol").is_none());
    assert!(resp.headers().get("sec-websocket-extensions").is_none());
    assert_eq!(
        resp.headers()["x-codex-websocket-max-message-bytes"],
        "16777216"
    );
    let first = turn(&mut ws, create(user("hi"))).await;
    assert_eq!(last(&first)["type"], "response.completed", "{first:?}");
    let id = last(&first)["response"]["id"].as_str().unwrap().to_string();
    let mut next = create(
        json!([{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "more"}]}]),
    );
    next["previous_response_id"] = json!(id);
    let second = turn(&mut ws, next).await;
    assert_eq!(last(&second)["type"], "response.completed", "{second:?}");
    let frames = mock.ws_frames();
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0].socket, frames[1].socket, "one upstream socket");
    assert!(frames.iter().all(|f| f.account == "a"));
    let token = &frames[0].token;
    assert!(
        !token.is_empty() && frames[0].headers["openai-beta"] == "responses_websockets=2026-02-06"
    );
    assert!(!frames[0].is_continuation() && frames[1].is_continuation());
    assert_eq!(
        frames[1].body["input"].as_array().unwrap().len(),
        1,
        "only the new items"
    );
    assert_eq!(frames[0].body["store"], false);
    assert!(mock.responses().is_empty(), "no HTTP POST /responses");
    let scrape = gw.get("/metrics", &[]).await.1;
    assert_eq!(
        metric(
            &scrape,
            "codex_pool_websocket_turns_total",
            &[("route", "responses_ws"), ("kind", "continuation")]
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(&scrape, "codex_pool_websockets_open", &[("side", "client")]),
        Some(1.0)
    );
    drop(ws);
    gw.stop().await;
}

#[tokio::test]
async fn the_codex_route_sends_the_pool_login_and_the_clis_identity_never_its_own_login() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).accounts(&["a"]).start().await;
    let caller = crate::support::mock::jwt(&json!({"sub": "caller"}));
    let bearer = format!("Bearer {caller}");
    let headers = [
        ("authorization", bearer.as_str()),
        ("chatgpt-account-id", "acct-caller"),
        ("originator", "codex_exec"),
        ("x-codex-window-id", "w:1"),
    ];
    let (mut ws, _) = connect(&gw, "/backend-api/codex/responses", &headers)
        .await
        .unwrap();
    let prewarm = turn(&mut ws, json!({"type": "response.create", "model": "gpt-5.4", "input": user("hi"), "generate": false})).await;
    assert_eq!(last(&prewarm)["type"], "response.completed");
    let f = &mock.ws_frames()[0];
    assert_eq!(f.account, "a");
    assert_ne!(f.token, caller);
    assert_eq!(f.headers["originator"], "codex_exec");
    assert_eq!(f.headers["x-codex-window-id"], "w:1");
    assert_eq!(f.body["generate"], false);
    gw.stop().await;
}

#[tokio::test]
async fn a_usage_limit_on_the_first_turn_moves_it_unseen_to_the_next_account() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).accounts(&["a", "b"]).start().await;
    mock.ws_script("a", usage_limit());
    let mut ws = open(&gw, "/v1/responses").await;
    let events = turn(&mut ws, create(user("hi"))).await;
    assert!(events.iter().all(|e| e["type"] != "error"), "{events:?}");
    assert_eq!(last(&events)["type"], "response.completed");
    let frames = mock.ws_frames();
    let accounts: Vec<&str> = frames.iter().map(|f| f.account.as_str()).collect();
    assert_eq!(accounts, ["a", "b"]);
    assert!(frames.iter().all(|f| !f.is_continuation()));
    assert_ne!(frames[0].socket, frames[1].socket);
    // The next turn stays on b's socket.
    let id = last(&events)["response"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut next = create(user("more"));
    next["previous_response_id"] = json!(id);
    assert_eq!(
        last(&turn(&mut ws, next).await)["type"],
        "response.completed"
    );
    let frames = mock.ws_frames();
    assert_eq!(
        (frames[2].account.as_str(), frames[2].socket),
        ("b", frames[1].socket)
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_continuation_on_a_limited_account_is_previous_response_not_found_and_its_resend_moves() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).accounts(&["a", "b"]).start().await;
    let mut ws = open(&gw, "/v1/responses").await;
    let first = turn(&mut ws, create(user("hi"))).await;
    let id = last(&first)["response"]["id"].as_str().unwrap().to_string();
    let ts = first
        .iter()
        .find(|e| e["type"] == "response.metadata")
        .unwrap()["headers"]["x-codex-turn-state"]
        .clone();
    mock.ws_script("a", usage_limit());
    let mut next = create(user("more"));
    next["previous_response_id"] = json!(id);
    next["client_metadata"] = json!({"x-codex-turn-state": ts});
    let refused = turn(&mut ws, next).await;
    let e = last(&refused);
    assert_eq!(e["type"], "error");
    assert_eq!(e["status"], 400);
    assert_eq!(e["error"]["code"], "previous_response_not_found");
    // The CLI resends the whole input without previous_response_id.
    let mut full = create(json!([user("hi")[0], user("more")[0]]));
    full["client_metadata"] = json!({"x-codex-turn-state": ts});
    let served = turn(&mut ws, full).await;
    assert_eq!(last(&served)["type"], "response.completed", "{served:?}");
    let frames = mock.ws_frames();
    let on_b: Vec<_> = frames.iter().filter(|f| f.account == "b").collect();
    assert_eq!(on_b.len(), 1);
    assert!(!on_b[0].is_continuation());
    assert_eq!(on_b[0].turn_state(), None, "a's turn state never reaches b");
    let scrape = gw.get("/metrics", &[]).await.1;
    assert_eq!(
        metric(
            &scrape,
            "codex_pool_websocket_previous_response_not_found_total",
            &[]
        ),
        Some(1.0)
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_usage_limit_reaches_the_client_only_when_no_account_can_serve() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).accounts(&["a", "b"]).start().await;
    mock.ws_script("a", usage_limit());
    mock.ws_script("b", usage_limit());
    let mut ws = open(&gw, "/v1/responses").await;
    let events = turn(&mut ws, create(user("hi"))).await;
    let e = last(&events);
    assert_eq!(e["type"], "error");
    assert_eq!(e["status"], 429);
    assert_eq!(e["error"]["type"], "usage_limit_reached");
    assert!(e["error"]["resets_at"].as_u64().unwrap() > now());
    gw.stop().await;
}

#[tokio::test]
async fn a_foreign_origin_is_refused_before_the_upgrade_and_nothing_goes_upstream() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).accounts(&["a"]).start().await;
    let err = connect(&gw, "/v1/responses", &[("origin", "https://evil.example")])
        .await
        .err()
        .unwrap();
    let tokio_tungstenite::tungstenite::Error::Http(resp) = err else {
        panic!("{err:?}")
    };
    assert_eq!(resp.status(), 403);
    assert_eq!(mock.ws_sockets(), (0, 0));
    assert!(mock.ws_frames().is_empty());
    gw.stop().await;
}

#[tokio::test]
async fn a_team_gateway_wants_a_client_key_on_the_upgrade() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .accounts(&["a"])
        .key("team", |k| k.secret("sk-team-0123456789abcdef"))
        .start()
        .await;
    let err = connect(&gw, "/v1/responses", &[]).await.err().unwrap();
    let tokio_tungstenite::tungstenite::Error::Http(resp) = err else {
        panic!("{err:?}")
    };
    assert_eq!(resp.status(), 401);
    let (mut ws, _) = connect(
        &gw,
        "/backend-api/codex/responses",
        &[("x-api-key", "sk-team-0123456789abcdef")],
    )
    .await
    .unwrap();
    assert_eq!(
        last(&turn(&mut ws, create(user("hi"))).await)["type"],
        "response.completed"
    );
    assert_eq!(mock.ws_frames().len(), 1);
    gw.stop().await;
}

#[tokio::test]
async fn an_oversize_frame_gets_an_error_and_a_1009_close() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .accounts(&["a"])
        .toml("[server]\nwebsocket_max_message_bytes = 4096\n")
        .start()
        .await;
    let (mut ws, resp) = connect(&gw, "/v1/responses", &[]).await.unwrap();
    assert_eq!(
        resp.headers()["x-codex-websocket-max-message-bytes"],
        "4096"
    );
    let big = create(user(&"x".repeat(8192)));
    let _ = ws.send(Message::text(big.to_string())).await;
    let mut saw_error = false;
    let mut code = None;
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
        match msg {
            Message::Text(t) => saw_error |= t.as_str().contains("request_too_large"),
            Message::Close(f) => code = f.map(|f| u16::from(f.code)),
            _ => {}
        }
    }
    assert!(saw_error);
    assert_eq!(code, Some(1009));
    assert!(mock.ws_frames().is_empty());
    gw.stop().await;
}

#[tokio::test]
async fn a_binary_frame_gets_an_error_and_a_close() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).accounts(&["a"]).start().await;
    let mut ws = open(&gw, "/v1/responses").await;
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    let mut saw_error = false;
    let mut code = None;
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
        match msg {
            Message::Text(t) => saw_error |= t.as_str().contains("websocket_protocol_error"),
            Message::Close(f) => code = f.map(|f| u16::from(f.code)),
            _ => {}
        }
    }
    assert!(saw_error);
    assert_eq!(code, Some(1003));
    gw.stop().await;
}

#[tokio::test]
async fn an_upstream_without_websocket_serves_the_socket_over_http_rebuilding_continuations() {
    let mock = Mock::start().await;
    mock.ws_refuse(true);
    let gw = Gateway::builder(&mock).accounts(&["a"]).start().await;
    let mut ws = open(&gw, "/v1/responses").await;
    let first = turn(&mut ws, create(user("hi"))).await;
    assert_eq!(last(&first)["type"], "response.completed", "{first:?}");
    let id = last(&first)["response"]["id"].as_str().unwrap().to_string();
    let mut next = create(user("more"));
    next["previous_response_id"] = json!(id);
    let second = turn(&mut ws, next).await;
    assert_eq!(last(&second)["type"], "response.completed", "{second:?}");
    let posts = mock.responses();
    assert_eq!(posts.len(), 2);
    let input = posts[1].body["input"].as_array().unwrap();
    assert!(
        input.len() >= 3,
        "first input, its output, the new item: {input:?}"
    );
    assert_eq!(input.last().unwrap()["content"][0]["text"], "more");
    assert!(posts[1].body.get("previous_response_id").is_none());
    let scrape = gw.get("/metrics", &[]).await.1;
    assert_eq!(
        metric(
            &scrape,
            "codex_pool_websocket_http_fallbacks_total",
            &[("reason", "refused")]
        ),
        Some(1.0)
    );
    gw.stop().await;
}
