//! The HTTP edge's defences and bookkeeping: browser attacks on a loopback
//! listener (DNS rebinding, cross-site requests, bodies browsers send without
//! a preflight), the body-bytes budget, early 413 and 429, what a listener
//! off loopback shows without a key, health and readiness, and request ids
//! (the client's comes back, the gateway's own beside it).

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

/// POSTs a chat body with exactly these headers (and none reqwest adds but Host).
async fn raw_post(gw: &Gateway, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
    let mut req = gw
        .client()
        .post(gw.url("/v1/chat/completions"))
        .body(body.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(json!({"raw": text})),
    )
}

/// Sends raw HTTP/1.1 (to set any Host) and returns the status line's code and body.
async fn raw_http(gw: &Gateway, request: String) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(3), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (code, body)
}

fn chat_request(host: &str, extra_headers: &str, body: &str) -> String {
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\ncontent-type: application/json\r\n{extra_headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn a_rebinding_host_is_refused_and_reaches_no_upstream() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
    let body = chat("gpt-5.4", "hi").to_string();
    for host in [
        "rebind.evil.example",
        "evil.example:8787",
        "192.168.1.20:8787",
    ] {
        let (code, text) = raw_http(&gw, chat_request(host, "", &body)).await;
        assert_eq!(code, 403, "{host}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["error"]["code"], "forbidden_host", "{text}");
        assert_eq!(v["error"]["type"], "permission_error");
    }
    // /readyz and /metrics are not readable through a rebound name either.
    let (code, _) = raw_http(
        &gw,
        "GET /readyz HTTP/1.1\r\nHost: evil.example\r\nconnection: close\r\n\r\n".into(),
    )
    .await;
    assert_eq!(code, 403);
    for host in ["localhost:8787", "127.0.0.1", "[::1]:8787", "app.localhost"] {
        let (code, text) = raw_http(&gw, chat_request(host, "", &body)).await;
        assert_eq!(code, 200, "{host}: {text}");
    }
    assert_eq!(
        mock.responses().len(),
        4,
        "only the loopback hosts reached upstream"
    );
}

#[tokio::test]
async fn a_foreign_origin_is_refused_unless_listed() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .account("a")
        .toml("[server]\nallowed_origins = [\"https://chat.example.com\"]")
        .start()
        .await;
    let body = chat("gpt-5.4", "hi").to_string();
    let json_ct = ("content-type", "application/json");
    let (s, v) = raw_post(&gw, &[json_ct, ("origin", "https://evil.example")], &body).await;
    assert_eq!(s, 403, "{v}");
    assert_eq!(v["error"]["code"], "forbidden_origin");
    let (s, v) = raw_post(&gw, &[json_ct, ("origin", "null")], &body).await;
    assert_eq!(s, 403, "a sandboxed frame or a file page: {v}");
    assert_eq!(
        mock.responses().len(),
        0,
        "nothing refused reached upstream"
    );
    for origin in [
        "http://localhost:5173",
        "http://127.0.0.1:3000",
        "https://chat.example.com",
    ] {
        let (s, v) = raw_post(&gw, &[json_ct, ("origin", origin)], &body).await;
        assert_eq!(s, 200, "{origin}: {v}");
    }
    assert_eq!(mock.responses().len(), 3);
}

#[tokio::test]
async fn a_body_a_browser_can_send_without_a_preflight_gets_415() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
    let body = chat("gpt-5.4", "hi").to_string();
    // A Blob body (no type), a form, text/plain: all "simple" requests.
    for headers in [
        vec![],
        vec![("content-type", "text/plain")],
        vec![("content-type", "application/x-www-form-urlencoded")],
    ] {
        let (s, v) = raw_post(&gw, &headers, &body).await;
        assert_eq!(s, 415, "{headers:?}: {v}");
        assert_eq!(v["error"]["code"], "unsupported_media_type");
    }
    assert_eq!(mock.responses().len(), 0);
    let (s, _) = raw_post(
        &gw,
        &[("content-type", "application/json; charset=utf-8")],
        &body,
    )
    .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn a_declared_length_past_the_limit_is_refused_before_it_is_read() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .account("a")
        .toml("[server]\nmax_body_bytes = 1000")
        .start()
        .await;
    // Declares 10 MB and sends none of it: the answer comes at once.
    let req = "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\ncontent-type: application/json\r\ncontent-length: 10000000\r\nconnection: close\r\n\r\n";
    let started = std::time::Instant::now();
    let (code, text) = raw_http(&gw, req.into()).await;
    assert_eq!(code, 413, "{text}");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

#[tokio::test]
async fn the_body_bytes_budget_answers_a_fast_503() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .account("a")
        .toml("[server]\nmax_body_bytes = 4096\nmax_inflight_body_bytes = 6000")
        .start()
        .await;
    // One request holds 4000 bytes of the budget while its body trickles in.
    let mut slow = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    slow.write_all(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\ncontent-type: application/json\r\ncontent-length: 4000\r\n\r\n{",
    )
    .await
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let padded =
        json!({"model": "gpt-5.4", "messages": [{"role": "user", "content": "x".repeat(3000)}]});
    let (s, _, text) = gw.post("/v1/chat/completions", &padded).await;
    assert_eq!(s, 503, "{text}");
    assert!(text.contains("max_inflight_body_bytes"), "{text}");
    drop(slow);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (s, _, _) = gw.post("/v1/chat/completions", &padded).await;
    assert_eq!(s, 200, "the budget is back once the slow request is gone");
}

#[tokio::test]
async fn a_declared_length_never_sent_holds_little_of_the_budget() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .account("a")
        .toml("[server]\nmax_body_bytes = 100000\nmax_inflight_body_bytes = 200000")
        .start()
        .await;
    // Three clients declare 100 kB each and send nothing: together they
    // would hold more than the whole budget if a declaration reserved it.
    let mut idle = Vec::new();
    for _ in 0..3 {
        let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
        s.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n")
            .await
            .unwrap();
        idle.push(s);
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (s, _, text) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(s, 200, "{text}");
    drop(idle);
}

#[tokio::test]
async fn a_key_over_its_rate_is_refused_before_its_body_is_read() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .account("a")
        .key("carol", |k| k.rpm(1))
        .start()
        .await;
    let key = [("authorization", "Bearer sk-carol-123456")];
    assert_eq!(
        gw.post_with("/v1/chat/completions", &chat("gpt-5.4", "1"), &key)
            .await
            .0,
        200
    );
    assert_eq!(
        gw.post_with("/v1/chat/completions", &chat("gpt-5.4", "2"), &key)
            .await
            .0,
        429
    );
    // Now limited: a request that declares a body and never sends it is
    // answered at once, not after the body-read timeout.
    let req = "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nauthorization: Bearer sk-carol-123456\r\ncontent-type: application/json\r\ncontent-length: 5000\r\nconnection: close\r\n\r\n{";
    let started = std::time::Instant::now();
    let (code, text) = raw_http(&gw, req.into()).await;
    assert_eq!(code, 429, "{text}");
    assert!(text.contains("rate_limited"), "{text}");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(mock.responses().len(), 1);
}

#[tokio::test]
async fn off_loopback_metrics_need_a_key_and_readyz_names_no_accounts() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .account("a")
        .admin("admin-secret-0123456789")
        .key("team", |k| k)
        .bind("0.0.0.0:0")
        .start()
        .await;
    let (s, body) = gw.get("/metrics", &[]).await;
    assert_eq!(s, 401, "{body}");
    let (s, body) = gw
        .get("/metrics", &[("authorization", "Bearer sk-team-123456")])
        .await;
    assert_eq!(s, 200);
    assert!(
        body.contains("codex_pool_requests_total") || body.contains("codex_pool_inflight_requests")
    );
    let (s, _) = gw
        .get(
            "/metrics",
            &[("authorization", "Bearer admin-secret-0123456789")],
        )
        .await;
    assert_eq!(s, 200);
    let (s, body) = gw.get("/readyz", &[]).await;
    assert_eq!(s, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["usable_accounts"], 1);
    assert!(v.get("accounts").is_none(), "{body}");
    assert!(!body.contains("\"a\""), "{body}");
    drop(gw);

    // On loopback, both stay as they were.
    let gw = Gateway::builder(&mock).account("a").start().await;
    assert_eq!(gw.get("/metrics", &[]).await.0, 200);
    let (_, body) = gw.get("/readyz", &[]).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["accounts"][0]["name"], "a");
}

#[tokio::test]
async fn health_and_readiness() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
    let (s, text) = gw.get("/healthz", &[]).await;
    assert_eq!((s, text.contains("ok")), (200, true));
    let (s, text) = gw.get("/readyz", &[]).await;
    assert_eq!(s, 200, "{text}");
    drop(gw);
    // No usable login at all: not ready, with the reason.
    let gw = Gateway::builder(&mock)
        .account("ghost")
        .no_login()
        .start()
        .await;
    let (s, text) = gw.get("/readyz", &[]).await;
    assert_eq!(s, 503, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(
        v["accounts"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("ghost.json"),
        "{v}"
    );
    let (s, _, text) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(s, 503);
    assert!(text.contains("pool_exhausted"), "{text}");
}

#[tokio::test]
async fn the_client_request_id_comes_back_and_a_missing_one_is_generated() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
    let (status, headers, text) = gw
        .post_with(
            "/v1/chat/completions",
            &chat("gpt-5.4", "hi"),
            &[("x-request-id", "req-abc-123")],
        )
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(headers["x-request-id"], "req-abc-123");

    let stream = json!({"model": "gpt-5.4", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let (_, headers, _) = gw
        .post_with(
            "/v1/chat/completions",
            &stream,
            &[("x-request-id", "req-stream-9")],
        )
        .await;
    assert_eq!(headers["x-request-id"], "req-stream-9");

    let mut generated = Vec::new();
    for _ in 0..2 {
        let (status, headers, text) = gw
            .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
            .await;
        assert_eq!(status, 200, "{text}");
        let id = headers
            .get("x-request-id")
            .expect("a generated x-request-id")
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(id.len(), 36, "{id}");
        assert_eq!(id.matches('-').count(), 4, "{id}");
        generated.push(id);
    }
    assert_ne!(generated[0], generated[1]);

    // Error answers carry it too, and an unusable id is replaced.
    let (status, headers, _) = gw
        .post_with("/v1/nope", &json!({}), &[("x-request-id", "req-404")])
        .await;
    assert_eq!(status, 404);
    assert_eq!(headers["x-request-id"], "req-404");
    let (_, headers, _) = gw
        .post_with(
            "/v1/chat/completions",
            &chat("gpt-5.4", "hi"),
            &[("x-request-id", &"x".repeat(200))],
        )
        .await;
    let id = headers["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 36, "a 200-byte id is replaced: {id}");
}

#[tokio::test]
async fn every_request_gets_its_own_gateway_id_beside_the_clients() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .account("a")
        .admin(ADMIN)
        .start()
        .await;
    let mut ours = Vec::new();
    for _ in 0..2 {
        let (s, h, _) = gw
            .post_with(
                "/v1/chat/completions",
                &chat("gpt-5.4", "hi"),
                &[("x-request-id", "copied-id")],
            )
            .await;
        assert_eq!(s, 200);
        assert_eq!(h["x-request-id"], "copied-id", "the client's id comes back");
        ours.push(h["x-codex-pool-request-id"].to_str().unwrap().to_string());
    }
    assert_ne!(ours[0], ours[1], "the gateway's ids differ");
    let entries = gw.activity().await;
    let text = format!("{entries:?}");
    let gateway_ids: Vec<&str> = entries
        .iter()
        .filter(|e| e["request_id"] == "copied-id")
        .filter_map(|e| e["gateway_request_id"].as_str())
        .collect();
    assert_eq!(gateway_ids.len(), 2, "{text}");
    for id in &ours {
        assert!(gateway_ids.contains(&id.as_str()), "{text}");
    }
}
