//! The Codex CLI's own backend surface (`/backend-api/*`): each endpoint's
//! shape, who may call it, and that the caller's ChatGPT login never reaches
//! upstream (asserted on what the mock recorded).

use serde_json::{json, Value};

use crate::support::*;

/// The client key `teammate` of the gateways with keys.
const TEAMMATE: &str = "sk-pool-teammate";

/// A gateway with one account and, with `keys`, the client key `teammate`.
async fn gateway(mock: &Mock, accounts: &[&str], keys: bool) -> Gateway {
    let b = Gateway::builder(mock).accounts(accounts);
    let b = if keys {
        b.key("teammate", |k| k.secret(TEAMMATE))
    } else {
        b
    };
    b.start().await
}

/// The caller's own ChatGPT login, as the CLI sends it (the same for a test).
fn caller_token() -> String {
    mock::jwt(&json!({"exp": 4_000_000_000u64, "who": "caller"}))
}

/// The access token the gateway holds for `account`.
fn pool_token(gw: &Gateway, account: &str) -> String {
    gw.auth_json(account)["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn get_json(gw: &Gateway, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let (status, text) = gw.get(path, headers).await;
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}")),
    )
}

/// Waits until the background refresh has the upstream catalog.
async fn catalog_loaded(gw: &Gateway) {
    eventually!(
        gw.get("/backend-api/codex/models", &[]).await.0 == 200,
        "the models list was not fetched"
    );
}

/// A request as the Codex CLI 0.169 sends it: zstd, no `instructions`, its
/// own login and identity headers.
async fn cli_request(
    gw: &Gateway,
    extra: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, String) {
    let body = json!({"model": "gpt-5.4", "stream": true, "store": false, "prompt_cache_key": "thread-1",
        "input": [{"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "be Codex"}]},
                  {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
        "tools": [], "tool_choice": "auto", "parallel_tool_calls": false,
        "reasoning": {"effort": "medium", "context": "all_turns"},
        "client_metadata": {"x-codex-installation-id": "inst-1"}});
    let packed = zstd::encode_all(body.to_string().as_bytes(), 3).unwrap();
    let bearer = format!("Bearer {}", caller_token());
    let mut req = gw
        .client()
        .post(gw.url("/backend-api/codex/responses"))
        .header("content-type", "application/json")
        .header("content-encoding", "zstd")
        .header("accept", "text/event-stream")
        .header("authorization", &bearer)
        .header("chatgpt-account-id", "acct-caller")
        .header("originator", "codex_exec")
        .header("version", "0.169.0")
        .header(
            "user-agent",
            "codex_exec/0.169.0 (Debian 12.0.0; x86_64) xterm (codex_exec; 0.169.0)",
        )
        .header("session-id", "thread-1")
        .header("thread-id", "thread-1")
        .header("x-client-request-id", "thread-1")
        .header("x-codex-window-id", "thread-1:0")
        .header("x-codex-routing-hint", "model=gpt-5.4")
        .header("x-codex-beta-features", "remote_compaction_v2")
        .header(
            "x-codex-turn-metadata",
            r#"{"request_kind":"turn","thread_id":"thread-1"}"#,
        )
        .header("x-codex-turn-state", "ts-from-another-account")
        .header("x-openai-account-routing-override", "us")
        .header("cookie", "session=caller")
        .body(packed);
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap())
}

#[tokio::test]
async fn the_callers_login_never_reaches_upstream_and_its_identity_does() {
    let mock = Mock::start().await;
    let gw = gateway(&mock, &["a"], false).await;
    let (status, headers, text) = cli_request(&gw, &[]).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(headers["content-type"], "text/event-stream");
    let events = sse_data(&text);
    assert_eq!(events.first().unwrap()["type"], "response.created");
    assert_eq!(events.last().unwrap()["type"], "response.completed");

    let seen = mock.responses();
    assert_eq!(seen.len(), 1);
    let up = &seen[0];
    let want_auth = format!("Bearer {}", pool_token(&gw, "a"));
    assert_eq!(up.header("authorization"), Some(want_auth.as_str()));
    assert_eq!(up.header("chatgpt-account-id"), Some("a"));
    for (name, value) in [
        ("originator", "codex_exec"),
        ("version", "0.169.0"),
        ("session-id", "thread-1"),
        ("thread-id", "thread-1"),
        ("x-client-request-id", "thread-1"),
        ("x-codex-window-id", "thread-1:0"),
        ("x-codex-routing-hint", "model=gpt-5.4"),
        ("x-codex-beta-features", "remote_compaction_v2"),
        (
            "x-codex-turn-metadata",
            r#"{"request_kind":"turn","thread_id":"thread-1"}"#,
        ),
    ] {
        assert_eq!(up.header(name), Some(value), "{name}");
    }
    assert!(up
        .header("user-agent")
        .unwrap()
        .starts_with("codex_exec/0.169.0"));
    for name in [
        "x-codex-turn-state",
        "x-openai-account-routing-override",
        "cookie",
        "content-encoding",
    ] {
        assert_eq!(up.header(name), None, "{name} went upstream");
    }
    let everything = format!("{:?}", mock.seen());
    let payload = caller_token().split('.').nth(1).unwrap().to_string();
    assert!(
        !everything.contains(&payload),
        "the caller's token reached upstream"
    );
    assert!(
        !everything.contains("acct-caller"),
        "the caller's account reached upstream"
    );
    // Normalized as /v1/responses is: instructions added, the rest kept.
    assert_eq!(up.body["instructions"], "");
    assert_eq!(up.body["store"], false);
    assert_eq!(up.body["reasoning"]["context"], "all_turns");
    assert_eq!(
        up.body["client_metadata"]["x-codex-installation-id"],
        "inst-1"
    );

    let (_, scrape) = gw.get("/metrics", &[]).await;
    assert_eq!(
        metric(
            &scrape,
            "codex_pool_requests_total",
            &[("route", "codex"), ("status_class", "2xx"), ("code", "ok")]
        ),
        Some(1.0),
        "{scrape}"
    );
}

#[tokio::test]
async fn compaction_and_prewarm_requests_pass_through_untouched() {
    let mock = Mock::start().await;
    let gw = gateway(&mock, &["a"], false).await;
    let compaction = json!({"type": "compaction", "encrypted_content": "blob"});
    let body = json!({"model": "gpt-5.4", "stream": true, "generate": false,
        "input": [compaction.clone(), {"type": "compaction_trigger"}]});
    let (status, _, text) = gw
        .post_with(
            "/backend-api/codex/responses",
            &body,
            &[("authorization", "Bearer a.b.c")],
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let up = &mock.responses()[0];
    assert_eq!(
        up.body["input"],
        json!([compaction, {"type": "compaction_trigger"}])
    );
    assert_eq!(up.body["generate"], false);
}

#[tokio::test]
async fn the_websocket_upgrade_is_426_so_the_cli_uses_http_at_once() {
    let mock = Mock::start().await;
    let gw = gateway(&mock, &["a"], false).await;
    let (status, text) = gw
        .get(
            "/backend-api/codex/responses",
            &[("upgrade", "websocket"), ("connection", "upgrade")],
        )
        .await;
    assert_eq!(status, 426, "{text}");
    let (status, _) = gw.get("/backend-api/codex/responses", &[]).await;
    assert_eq!(status, 405);
    assert!(mock.seen().iter().all(|s| !s.path.ends_with("/responses")));
}

#[tokio::test]
async fn the_models_list_is_upstreams_in_its_own_shape_with_an_etag() {
    let mock = Mock::start().await;
    let gw = gateway(&mock, &["a"], false).await;
    catalog_loaded(&gw).await;
    let resp = gw
        .client()
        .get(gw.url("/backend-api/codex/models?client_version=0.169.0"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    let v: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert_eq!(v, mock::models_answer(), "served as upstream sent it");
    assert!(v.get("data").is_none() && v.get("object").is_none());
    let again = gw
        .client()
        .get(gw.url("/backend-api/codex/models"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
}

#[tokio::test]
async fn without_an_upstream_list_the_models_route_says_so_and_invents_none() {
    let mock = Mock::start().await;
    mock.accept_only(&["nobody"]);
    let gw = gateway(&mock, &["a"], false).await;
    let (status, v) = get_json(&gw, "/backend-api/codex/models", &[]).await;
    assert_eq!(status, 503, "{v}");
    assert_eq!(v["error"]["code"], "upstream_unavailable");
}

#[tokio::test]
async fn discovery_and_start_up_calls_are_answered_here_without_a_client_key() {
    let mock = Mock::start().await;
    let gw = gateway(&mock, &["a"], true).await;
    let bearer = format!("Bearer {}", caller_token());
    let login = [
        ("authorization", bearer.as_str()),
        ("chatgpt-account-id", "acct-caller"),
    ];
    let (status, v) = get_json(
        &gw,
        "/backend-api/wham/accounts/check",
        &[login[0], login[1], ("host", "localhost:8787")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        v,
        json!({"accounts": [{"id": "acct-caller", "workspace_backend_origin": "https://localhost:8787",
            "account_routing_override": "NO_CONSTRAINT"}]})
    );
    for (path, want) in [
        ("/backend-api/wham/settings/user", json!({})),
        ("/backend-api/wham/security-setup", json!({})),
        (
            "/backend-api/wham/rate-limit-reset-credits",
            json!({"credits": [], "available_count": 0}),
        ),
        (
            "/backend-api/ps/plugins/installed?limit=200",
            json!({"plugins": [], "pagination": {"next_page_token": null}}),
        ),
        (
            "/backend-api/ps/plugins/suggested/codex?scope=GLOBAL",
            json!({"enabled": false, "plugins": []}),
        ),
    ] {
        let (status, v) = get_json(&gw, path, &login).await;
        assert_eq!((status, v), (200, want), "{path}");
    }
    let (status, _, text) = gw
        .post_with(
            "/backend-api/codex/analytics-events/events",
            &json!({"events": [{"event_type": "x"}]}),
            &login,
        )
        .await;
    assert_eq!((status, text.as_str()), (200, "{}"));
    let (status, _, text) = gw
        .post("/backend-api/ps/mcp", &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-06-18"}}))
        .await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(status, 200);
    assert_eq!(v["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(v["result"]["capabilities"], json!({"tools": {}}));
    let (_, _, text) = gw
        .post(
            "/backend-api/ps/mcp",
            &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        )
        .await;
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["result"],
        json!({"tools": []})
    );
    let (status, _, _) = gw
        .post(
            "/backend-api/ps/mcp",
            &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        )
        .await;
    assert_eq!(status, 202);
    let (status, _) = gw.get("/backend-api/ps/mcp", &[]).await;
    assert_eq!(status, 405);
    let (status, v) = get_json(&gw, "/backend-api/wham/tasks/list", &login).await;
    assert_eq!(status, 404);
    assert_eq!(v["error"]["code"], "not_found");
    assert!(
        mock.seen()
            .iter()
            .all(|s| s.path.ends_with("/codex/models")),
        "forwarded upstream: {:?}",
        mock.seen().iter().map(|s| &s.path).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn with_client_keys_model_traffic_needs_one_beside_the_callers_login() {
    let mock = Mock::start().await;
    let gw = gateway(&mock, &["a"], true).await;
    let (status, _, text) = cli_request(&gw, &[]).await;
    assert_eq!(status, 401, "a ChatGPT login is no client key: {text}");
    let (status, _) = gw
        .get(
            "/backend-api/codex/models",
            &[("authorization", "Bearer a.b.c")],
        )
        .await;
    assert_eq!(status, 401);
    let (status, _, text) = cli_request(&gw, &[("x-api-key", TEAMMATE)]).await;
    assert_eq!(status, 200, "{text}");
    let up = &mock.responses()[0];
    assert_eq!(up.header("x-api-key"), None, "the client key went upstream");
    assert_eq!(up.header("chatgpt-account-id"), Some("a"));
    // `experimental_bearer_token`: the key as a non-JWT bearer.
    let (status, _) = gw
        .get(
            "/backend-api/codex/models",
            &[("authorization", "Bearer sk-pool-teammate")],
        )
        .await;
    assert_ne!(status, 401);
}

#[tokio::test]
async fn usage_shows_the_next_accounts_windows_as_integers() {
    let mock = Mock::start().await;
    mock.answer_headers(
        "a",
        &[
            ("x-codex-primary-used-percent", "40.6"),
            ("x-codex-primary-window-minutes", "300"),
            ("x-codex-primary-reset-at", "1900000000"),
            ("x-codex-secondary-used-percent", "7.2"),
            ("x-codex-secondary-window-minutes", "10080"),
            ("x-codex-secondary-reset-at", "1900500000"),
        ],
    );
    let gw = gateway(&mock, &["a", "b"], false).await;
    let (status, _, _) = cli_request(&gw, &[]).await;
    assert_eq!(status, 200);
    for path in ["/backend-api/wham/usage", "/api/codex/usage"] {
        let (status, v) = get_json(&gw, path, &[]).await;
        assert_eq!(status, 200);
        let rl = &v["rate_limit"];
        assert_eq!(rl["allowed"], true);
        assert_eq!(rl["limit_reached"], false);
        assert_eq!(rl["primary_window"]["used_percent"], json!(41));
        assert!(rl["primary_window"]["used_percent"].is_i64());
        assert_eq!(rl["primary_window"]["limit_window_seconds"], 18000);
        assert_eq!(rl["primary_window"]["reset_at"], 1_900_000_000);
        assert!(rl["primary_window"]["reset_after_seconds"].is_i64());
        assert_eq!(rl["secondary_window"]["used_percent"], 7);
        assert_eq!(rl["secondary_window"]["limit_window_seconds"], 604800);
        assert_eq!(v["plan_type"], "plus");
    }
    assert!(
        mock.seen().iter().all(|s| !s.path.ends_with("/wham/usage")),
        "fresh headers need no probe"
    );
}

#[tokio::test]
async fn usage_without_a_reading_probes_that_account_once() {
    let mock = Mock::start().await;
    let gw = gateway(&mock, &["a"], false).await;
    let (status, v) = get_json(&gw, "/backend-api/wham/usage", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(v["plan_type"], "pro");
    assert_eq!(v["rate_limit"]["primary_window"]["used_percent"], 17);
    let _ = get_json(&gw, "/backend-api/wham/usage", &[]).await;
    let probes: Vec<_> = mock
        .seen()
        .into_iter()
        .filter(|s| s.path.ends_with("/wham/usage"))
        .collect();
    assert_eq!(probes.len(), 1, "the second answer comes from the reading");
    assert_eq!(probes[0].header("chatgpt-account-id"), Some("a"));
}

#[tokio::test]
async fn a_pool_out_of_quota_shows_the_earliest_reset() {
    let mock = Mock::start().await;
    let limit = |secs: u64| {
        Script::Status(
            429,
            json!({"error": {"type": "usage_limit_reached", "message": "The usage limit has been reached",
                "plan_type": "plus", "resets_at": now() + secs}})
            .to_string(),
            vec![],
        )
    };
    mock.script("a", limit(7200));
    mock.script("b", limit(3600));
    let gw = gateway(&mock, &["a", "b"], false).await;
    let (status, _, _) = cli_request(&gw, &[]).await;
    assert_eq!(status, 429);
    let (_, v) = get_json(&gw, "/backend-api/wham/usage", &[]).await;
    let rl = &v["rate_limit"];
    assert_eq!(rl["allowed"], false, "{v}");
    assert_eq!(rl["limit_reached"], true);
    let reset = rl["primary_window"]["reset_at"].as_i64().unwrap();
    assert!((reset - (now() as i64 + 3600)).abs() <= 5, "{v}");
    assert_eq!(rl["primary_window"]["used_percent"], 100);
    assert!(v.get("plan_type").is_some());
}

#[tokio::test]
async fn with_client_keys_usage_needs_one_and_is_otherwise_not_available() {
    let mock = Mock::start().await;
    let gw = gateway(&mock, &["a"], true).await;
    let bearer = format!("Bearer {}", caller_token());
    let (status, v) = get_json(
        &gw,
        "/backend-api/wham/usage",
        &[
            ("authorization", &bearer),
            ("chatgpt-account-id", "acct-caller"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        v,
        json!({"plan_type": "unknown"}),
        "nothing of the pool without a key"
    );
    assert!(mock.seen().iter().all(|s| !s.path.ends_with("/wham/usage")));
    let (_, v) = get_json(&gw, "/backend-api/wham/usage", &[("x-api-key", TEAMMATE)]).await;
    assert_eq!(v["rate_limit"]["primary_window"]["used_percent"], 17);
}
