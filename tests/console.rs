//! The console's security at the HTTP level: the page and its API answer
//! only with a session (the admin token entered once) or the token itself;
//! every change must come from the console's own origin; the session cookie
//! is HttpOnly and SameSite=Strict and carries no token; a key made from the
//! console is written to the config as a hash only and works at once.
//! (The page itself, in Chromium: `scripts/check-console.sh`.)

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use common::*;
use serde_json::{json, Value};

const ADMIN: &str = "adm-console-test-token-0123456789";

async fn call(
    gw: &Gateway,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut req = gw.client().request(method, gw.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = req.send().await.unwrap();
    let (s, h) = (resp.status().as_u16(), resp.headers().clone());
    (s, h, resp.text().await.unwrap())
}

#[tokio::test]
async fn the_console_needs_a_session_and_its_own_origin_for_changes() {
    let mock = Mock::start().await;
    let extra = format!("[admin]\ntoken = \"{ADMIN}\"\n[[api_keys]]\nname = \"keep\"\nkey = \"sk-keep-0123456789abcdef\"");
    let gw = Gateway::start(&mock, &["a"], &extra).await;
    let origin = format!("http://{}", gw.addr);
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;

    // The page: built in, a strict CSP, nothing secret in it.
    let (s, h, page) = call(&gw, get.clone(), "/console/", &[], None).await;
    assert_eq!(s, 200);
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(page.contains("app.js") && !page.contains(ADMIN));

    // Without a session: nothing.
    for path in [
        "/console/api/keys",
        "/console/api/admin/accounts",
        "/console/api/recent",
    ] {
        let (s, _, _) = call(&gw, get.clone(), path, &[], None).await;
        assert_eq!(s, 401, "{path}");
    }
    let (_, _, session) = call(&gw, get.clone(), "/console/api/session", &[], None).await;
    assert_eq!(
        serde_json::from_str::<Value>(&session).unwrap()["authenticated"],
        false
    );

    // Logging in: a wrong token is refused; the right one gives a cookie
    // that is not the token.
    let (s, _, _) = call(
        &gw,
        post.clone(),
        "/console/api/login",
        &[("origin", &origin)],
        Some(json!({"token": "nope"})),
    )
    .await;
    assert_eq!(s, 401);
    let (s, _, _) = call(
        &gw,
        post.clone(),
        "/console/api/login",
        &[],
        Some(json!({"token": ADMIN})),
    )
    .await;
    assert_eq!(s, 403, "a login without the console's Origin is refused");
    let (s, h, _) = call(
        &gw,
        post.clone(),
        "/console/api/login",
        &[("origin", &origin)],
        Some(json!({"token": ADMIN})),
    )
    .await;
    assert_eq!(s, 200);
    let set = h["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    assert!(!set.contains(ADMIN));
    let cookie = set.split(';').next().unwrap().to_string();
    let (s, _, _) = call(
        &gw,
        get.clone(),
        "/console/api/admin/accounts",
        &[("cookie", &cookie)],
        None,
    )
    .await;
    assert_eq!(s, 200);
    let forged = cookie.replace(
        |c: char| c.is_ascii_hexdigit() && c.is_ascii_alphabetic(),
        "0",
    );
    let (s, _, _) = call(
        &gw,
        get.clone(),
        "/console/api/keys",
        &[("cookie", &forged)],
        None,
    )
    .await;
    assert_eq!(s, 401, "a forged session is refused");

    // Changes: refused without an Origin, or from a foreign one, even with the session.
    let new_key = Some(json!({"name": "web"}));
    let (s, _, _) = call(
        &gw,
        post.clone(),
        "/console/api/keys",
        &[("cookie", &cookie)],
        new_key.clone(),
    )
    .await;
    assert_eq!(s, 403);
    let (s, _, _) = call(
        &gw,
        post.clone(),
        "/console/api/admin/accounts/a/disable",
        &[("cookie", &cookie), ("origin", "http://127.0.0.1:1")],
        None,
    )
    .await;
    assert_eq!(s, 403);
    assert!(gw.app.snapshot().pool.accounts()[0].settings().enabled);
    let (s, _, _) = call(
        &gw,
        post.clone(),
        "/console/api/keys",
        &[("origin", &origin)],
        new_key.clone(),
    )
    .await;
    assert_eq!(s, 401, "a change without the session is refused");

    // From the console: a key, its secret once, only its hash in the config.
    let (s, _, body) = call(
        &gw,
        post.clone(),
        "/console/api/keys",
        &[("cookie", &cookie), ("origin", &origin)],
        new_key,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let secret = serde_json::from_str::<Value>(&body).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string();
    let config = std::fs::read_to_string(&gw.config_path).unwrap();
    assert!(
        config.contains("name = \"web\"")
            && config.contains("key_sha256")
            && !config.contains(&secret)
    );
    let (s, _, _) = gw
        .post_with(
            "/v1/chat/completions",
            &chat("gpt-5.4", "hi"),
            &[("authorization", &format!("Bearer {secret}"))],
        )
        .await;
    assert_eq!(s, 200, "the new key works without a restart");
    assert_eq!(mock.responses().len(), 1);
    let (_, _, listed) = call(
        &gw,
        get.clone(),
        "/console/api/keys",
        &[("cookie", &cookie)],
        None,
    )
    .await;
    assert!(!listed.contains(&secret), "the secret is shown once only");
    let (s, _, _) = call(
        &gw,
        post.clone(),
        "/console/api/keys/web/revoke",
        &[("cookie", &cookie), ("origin", &origin)],
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (s, _, _) = gw
        .post_with(
            "/v1/chat/completions",
            &chat("gpt-5.4", "hi"),
            &[("authorization", &format!("Bearer {secret}"))],
        )
        .await;
    assert_eq!(s, 401, "a revoked key is refused at once");
    let (s, _, body) = call(
        &gw,
        post.clone(),
        "/console/api/keys/keep/revoke",
        &[("cookie", &cookie), ("origin", &origin)],
        None,
    )
    .await;
    assert_eq!(
        s, 409,
        "the last key is not revoked (the gateway would open): {body}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn without_an_admin_token_the_console_is_open_on_loopback_only() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a"], "").await;
    let (_, _, session) = call(&gw, reqwest::Method::GET, "/console/api/session", &[], None).await;
    let v: Value = serde_json::from_str(&session).unwrap();
    assert_eq!(
        (&v["authenticated"], &v["open"]),
        (&Value::from(true), &Value::from(true))
    );
    // The browser guard still stands in front of it.
    let (s, _, _) = call(
        &gw,
        reqwest::Method::GET,
        "/console/api/keys",
        &[("origin", "http://evil.example")],
        None,
    )
    .await;
    assert_eq!(s, 403);
    gw.stop().await;

    let dir = tempfile::tempdir().unwrap();
    write_auth(
        &dir.path().join("a.json"),
        "a",
        &access_token("a", 3600),
        "rt-a",
    );
    let text = config_text(
        &mock,
        &["a"],
        "[[api_keys]]\nname = \"k\"\nkey = \"sk-k-0123456789abcdef\"",
    );
    let gw = Gateway::start_bound(&mock, dir, &text, "0.0.0.0:0").await;
    let (s, _, _) = call(&gw, reqwest::Method::GET, "/console/", &[], None).await;
    assert_eq!(
        s, 404,
        "off loopback without an admin token there is no console"
    );
    gw.stop().await;
}
