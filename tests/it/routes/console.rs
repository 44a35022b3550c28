//! The console's security at the HTTP level: the page and its API answer
//! only with a session (the admin token entered once) or the token itself;
//! every change must come from the console's own origin; the session cookie
//! is HttpOnly and SameSite=Strict and carries no token; a key made from the
//! console is written to the config as a hash only and works at once.
//! (The page itself, in Chromium: `scripts/check-console.sh`.)

use serde_json::{json, Value};

use crate::support::*;

async fn call(
    gw: &Gateway,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut req = client().request(method, gw.url(path));
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
    let gw = Gateway::builder(&mock)
        .account("a")
        .admin(ADMIN)
        .key("keep", |k| k)
        .start()
        .await;
    let origin = format!("http://{}", gw.addr);
    let (get, post) = (reqwest::Method::GET, reqwest::Method::POST);

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
        assert_eq!(
            call(&gw, get.clone(), path, &[], None).await.0,
            401,
            "{path}"
        );
    }
    let (_, _, session) = call(&gw, get.clone(), "/console/api/session", &[], None).await;
    assert_eq!(
        serde_json::from_str::<Value>(&session).unwrap()["authenticated"],
        false
    );

    // Logging in: a wrong token is refused; the right one gives a cookie
    // that is not the token.
    let with_origin = [("origin", origin.as_str())];
    let login = |t: &str| Some(json!({ "token": t }));
    assert_eq!(
        call(
            &gw,
            post.clone(),
            "/console/api/login",
            &with_origin,
            login("nope")
        )
        .await
        .0,
        401
    );
    let (s, _, _) = call(&gw, post.clone(), "/console/api/login", &[], login(ADMIN)).await;
    assert_eq!(s, 403, "a login without the console's Origin is refused");
    let (s, h, _) = call(
        &gw,
        post.clone(),
        "/console/api/login",
        &with_origin,
        login(ADMIN),
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
    let with_cookie = [("cookie", cookie.as_str())];
    assert_eq!(
        call(
            &gw,
            get.clone(),
            "/console/api/admin/accounts",
            &with_cookie,
            None
        )
        .await
        .0,
        200
    );
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
    assert_eq!(
        call(
            &gw,
            post.clone(),
            "/console/api/keys",
            &with_cookie,
            new_key.clone()
        )
        .await
        .0,
        403
    );
    let foreign = [
        ("cookie", cookie.as_str()),
        ("origin", "http://127.0.0.1:1"),
    ];
    let (s, _, _) = call(
        &gw,
        post.clone(),
        "/console/api/admin/accounts/a/disable",
        &foreign,
        None,
    )
    .await;
    assert_eq!(s, 403);
    assert_eq!(gw.account("a").await["state"], "ready");
    let (s, _, _) = call(
        &gw,
        post.clone(),
        "/console/api/keys",
        &with_origin,
        new_key.clone(),
    )
    .await;
    assert_eq!(s, 401, "a change without the session is refused");

    // From the console: a key, its secret once, only its hash in the config.
    let both = [("cookie", cookie.as_str()), ("origin", origin.as_str())];
    let (s, _, body) = call(&gw, post.clone(), "/console/api/keys", &both, new_key).await;
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
    let door = &gw;
    let ask = |key: String| async move {
        door.post_as(&key, "/v1/chat/completions", &chat("gpt-5.4", "hi"))
            .await
            .0
    };
    assert_eq!(
        ask(secret.clone()).await,
        200,
        "the new key works without a restart"
    );
    assert_eq!(mock.responses().len(), 1);
    let (_, _, listed) = call(&gw, get.clone(), "/console/api/keys", &with_cookie, None).await;
    assert!(!listed.contains(&secret), "the secret is shown once only");
    assert_eq!(
        call(
            &gw,
            post.clone(),
            "/console/api/keys/web/revoke",
            &both,
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(ask(secret).await, 401, "a revoked key is refused at once");
    let (s, _, body) = call(
        &gw,
        post.clone(),
        "/console/api/keys/keep/revoke",
        &both,
        None,
    )
    .await;
    assert_eq!(
        s, 409,
        "the last key is not revoked (the gateway would open): {body}"
    );
}

#[tokio::test]
async fn without_an_admin_token_the_console_is_open_on_loopback_only() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
    let (_, _, session) = call(&gw, reqwest::Method::GET, "/console/api/session", &[], None).await;
    let v: Value = serde_json::from_str(&session).unwrap();
    assert_eq!(
        [&v["authenticated"], &v["open"]],
        [&Value::from(true), &Value::from(true)]
    );
    // The browser guard still stands in front of it.
    let evil = [("origin", "http://evil.example")];
    assert_eq!(
        call(&gw, reqwest::Method::GET, "/console/api/keys", &evil, None)
            .await
            .0,
        403
    );
    gw.stop().await;

    let gw = Gateway::builder(&mock)
        .account("a")
        .key("k", |k| k)
        .bind("0.0.0.0:0")
        .start()
        .await;
    let (s, _, _) = call(&gw, reqwest::Method::GET, "/console/", &[], None).await;
    assert_eq!(
        s, 404,
        "off loopback without an admin token there is no console"
    );
}
