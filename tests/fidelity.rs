//! Keeping up with the backend as it was in 2026-12 (docs/upstream.md §9):
//! the failure table, per-account model eligibility, the version the gateway
//! sends, models from the catalog. Each test asserts what reached upstream.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use common::*;
use serde_json::{json, Value};

async fn ask(gw: &Gateway, model: &str) -> (u16, Value) {
    let (s, _, text) = gw.post("/v1/chat/completions", &chat(model, "hi")).await;
    (
        s,
        serde_json::from_str(&text).unwrap_or(json!({"raw": text})),
    )
}

async fn ask_stream(gw: &Gateway, model: &str) -> (u16, String) {
    let mut body = chat(model, "hi");
    body["stream"] = json!(true);
    let (s, _, text) = gw.post("/v1/chat/completions", &body).await;
    (s, text)
}

async fn accounts(gw: &Gateway) -> Vec<Value> {
    let (status, text) = gw
        .get(
            "/admin/accounts",
            &[("authorization", "Bearer admin-secret")],
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    v["accounts"].as_array().unwrap().clone()
}

fn state_of(list: &[Value], name: &str) -> String {
    let a = list.iter().find(|a| a["name"] == name).unwrap();
    a["state"].as_str().unwrap().to_string()
}

const ADMIN: &str = "[admin]\ntoken = \"admin-secret\"\n";

/// Waits until the gateway holds upstream's catalog.
async fn catalog_loaded(gw: &Gateway) {
    for _ in 0..100 {
        if gw.app.models.load().native.is_some() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    panic!("the catalog never loaded");
}

#[tokio::test]
async fn a_safety_block_reaches_the_client_untouched_and_moves_nothing() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], ADMIN).await;
    let words = "This content can't be shown. It may involve cybersecurity; ask about Trusted Access for Cyber.";
    let body = json!({"error": {"code": "cyber_policy", "message": words}}).to_string();
    mock.script("a", Script::Status(400, body, vec![]));
    let (s, v) = ask(&gw, "gpt-5.4").await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error"]["message"], words);
    assert_eq!(v["error"]["code"], "cyber_policy");
    assert_eq!(mock.accounts_hit(), ["a"], "never failed over");
    assert_eq!(state_of(&accounts(&gw).await, "a"), "ready");
    gw.stop().await;
}

#[tokio::test]
async fn cloudflare_520_and_challenges_fail_over_with_a_short_cooldown() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], ADMIN).await;
    let html = "<!DOCTYPE html><html><title>chatgpt.com | 520: Web server is returning an unknown error</title></html>";
    mock.script("a", Script::Status(520, html.into(), vec![]));
    let (s, _) = ask(&gw, "gpt-5.4").await;
    assert_eq!(s, 200);
    assert_eq!(mock.accounts_hit(), ["a", "b"]);
    let list = accounts(&gw).await;
    let a = list.iter().find(|x| x["name"] == "a").unwrap();
    assert_eq!(a["state"], "cooling", "{a}");
    assert_eq!(a["last_error"], "cloudflare_blocked", "{a}");

    mock.clear();
    let challenge = vec![("cf-mitigated".to_string(), "challenge".to_string())];
    mock.script(
        "b",
        Script::Status(403, "<html>Just a moment...</html>".into(), challenge),
    );
    let (s, v) = ask(&gw, "gpt-5.4").await;
    assert_eq!(mock.accounts_hit(), ["b"], "a still cools");
    assert_eq!(s, 503, "{v}");
    assert_eq!(v["error"]["code"], "pool_exhausted", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Cloudflare"),
        "{v}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_stream_cut_after_output_fails_fast_and_cools_nothing() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], ADMIN).await;
    mock.script(
        "a",
        Script::Events(vec![
            json!({"type": "response.created", "response": {"id": "r", "model": "gpt-5.4"}}),
            json!({"type": "response.output_text.delta", "delta": "Thinking out loud"}),
        ]),
    );
    let (s, text) = ask_stream(&gw, "gpt-5.4").await;
    assert_eq!(s, 200);
    let frames = sse_data(&text);
    let err = &frames.last().unwrap()["error"];
    assert_eq!(err["code"], "upstream_stream_cut", "{text}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("after output began"),
        "{err}"
    );
    assert_eq!(mock.accounts_hit(), ["a"]);
    assert_eq!(
        state_of(&accounts(&gw).await, "a"),
        "ready",
        "the edge's cut is not the account's"
    );
    ask(&gw, "gpt-5.4").await;
    assert_eq!(mock.accounts_hit(), ["a", "a"]);
    gw.stop().await;
}

#[tokio::test]
async fn a_lite_model_is_sent_only_the_tool_kinds_it_takes() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a"], "").await;
    catalog_loaded(&gw).await;
    let body = json!({"model": "gpt-6.1-nano", "input": "hi", "stream": false, "tools": [
        {"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {}}},
        {"type": "web_search"},
        {"type": "custom", "name": "apply_patch"}]});
    let (s, _, text) = gw.post("/v1/responses", &body).await;
    assert_eq!(s, 200, "{text}");
    let sent = mock.responses().pop().unwrap();
    let kinds: Vec<&str> = sent.body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["function", "custom"]);
    // A model that is not Lite keeps every tool.
    let mut full = body.clone();
    full["model"] = json!("gpt-6.1-codex");
    gw.post("/v1/responses", &full).await;
    let sent = mock.responses().pop().unwrap();
    assert_eq!(sent.body["tools"].as_array().unwrap().len(), 3);
    gw.stop().await;
}

#[tokio::test]
async fn a_lite_refusal_of_tools_is_the_clients_400_and_cools_nothing() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], ADMIN).await;
    let refusal = json!({"error": {"type": "invalid_request_error", "code": "unsupported_value", "param": "tools",
        "message": "Unsupported value: 'namespace' is not supported with this model."}});
    mock.script("a", Script::Status(400, refusal.to_string(), vec![]));
    let (s, v) = ask(&gw, "gpt-5.4").await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(mock.accounts_hit(), ["a"]);
    assert_eq!(state_of(&accounts(&gw).await, "a"), "ready");
    gw.stop().await;
}

#[tokio::test]
async fn an_account_with_credits_past_its_window_keeps_serving_and_shows_them() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], ADMIN).await;
    mock.answer_headers(
        "a",
        &[
            ("x-codex-primary-used-percent", "100"),
            ("x-codex-primary-window-minutes", "300"),
            ("x-codex-primary-reset-at", "1900000000"),
            ("x-codex-rate-limit-reached-type", "primary"),
            ("x-codex-active-limit", "credits"),
            ("x-codex-credits-has-credits", "true"),
            ("x-codex-credits-unlimited", "false"),
            ("x-codex-credits-balance", "42.00"),
        ],
    );
    for _ in 0..3 {
        assert_eq!(ask(&gw, "gpt-5.4").await.0, 200);
    }
    assert_eq!(mock.accounts_hit(), ["a", "a", "a"]);
    let quota = gw.app.snapshot().pool.accounts()[0].quota().unwrap();
    assert!(quota.has_credits());
    assert_eq!(quota.active_limit.as_deref(), Some("credits"));
    // What the Codex CLI's /status reads.
    let (s, text) = gw.get("/backend-api/wham/usage", &[]).await;
    assert_eq!(s, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v["credits"],
        json!({"has_credits": true, "unlimited": false, "balance": "42.00"})
    );
    assert_eq!(v["rate_limit"]["primary_window"]["used_percent"], 100);
    gw.stop().await;
}

/// Item: per-account model eligibility.
#[tokio::test]
async fn a_model_goes_only_to_accounts_whose_plan_has_it() {
    let mock = Mock::start().await;
    mock.set_plan("b", "pro");
    let gw = Gateway::start_plans(&mock, &[("a", "plus"), ("b", "pro")], ADMIN).await;
    catalog_loaded(&gw).await;
    let (s, v) = ask(&gw, "gpt-6.2-astra").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        mock.accounts_hit(),
        ["b"],
        "a's plan lacks the model: never asked"
    );
    // The plus account still serves what its plan has.
    ask(&gw, "gpt-6.2-sol").await;
    assert_eq!(mock.accounts_hit(), ["b", "a"]);
    gw.stop().await;
}

#[tokio::test]
async fn a_plan_refusal_sets_the_pair_aside_not_the_account() {
    let mock = Mock::start().await;
    // The login says pro; the backend holds a to plus (a downgrade since).
    mock.set_plan("b", "pro");
    let gw = Gateway::start_plans(&mock, &[("a", "pro"), ("b", "pro")], ADMIN).await;
    catalog_loaded(&gw).await;
    let (s, v) = ask(&gw, "gpt-6.2-astra").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(mock.accounts_hit(), ["a", "b"]);
    let list = accounts(&gw).await;
    assert_eq!(state_of(&list, "a"), "ready", "the account is not cooled");
    // The pair stays aside: astra goes straight to b, a still serves sol.
    ask(&gw, "gpt-6.2-astra").await;
    ask(&gw, "gpt-6.2-sol").await;
    assert_eq!(mock.accounts_hit(), ["a", "b", "b", "a"]);
    gw.stop().await;
}

#[tokio::test]
async fn no_account_for_a_model_is_an_error_naming_the_model_and_why() {
    let mock = Mock::start().await;
    let gw = Gateway::start_plans(&mock, &[("a", "plus"), ("b", "team")], ADMIN).await;
    catalog_loaded(&gw).await;
    let (s, v) = ask(&gw, "gpt-6.2-astra").await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error"]["code"], "model_unavailable");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("gpt-6.2-astra") && msg.contains("plan (plus)") && msg.contains("plan (team)"),
        "{msg}"
    );
    assert!(mock.responses().is_empty(), "nothing reached upstream");

    // Every account refused by upstream itself: the same error, in its words.
    mock.set_plan("a", "free");
    mock.set_plan("b", "free");
    let (s, v) = ask(&gw, "gpt-6.2-sol").await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error"]["code"], "model_unavailable");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not supported with this ChatGPT plan"),
        "{v}"
    );
    assert_eq!(mock.accounts_hit(), ["a", "b"]);
    let list = accounts(&gw).await;
    assert_eq!(
        (state_of(&list, "a"), state_of(&list, "b")),
        ("ready".into(), "ready".into())
    );
    gw.stop().await;
}

#[tokio::test]
async fn an_organization_refusal_tries_the_next_account_and_cools_nothing() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], ADMIN).await;
    let refusal = json!({"error": {"type": "invalid_request_error", "code": "unsupported_parameter",
        "param": "access_programs.cyber", "message": "Unsupported parameter: 'access_programs.cyber' is not supported for this organization."}});
    mock.script("a", Script::Status(400, refusal.to_string(), vec![]));
    let (s, v) = ask(&gw, "gpt-5.4").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(mock.accounts_hit(), ["a", "b"]);
    assert_eq!(state_of(&accounts(&gw).await, "a"), "ready");
    gw.stop().await;
}

/// Item: the Codex version sent follows the backend.
#[tokio::test]
async fn auto_sends_the_newest_version_the_catalog_needs_and_serves_a_model_from_tomorrow() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a"], "").await;
    catalog_loaded(&gw).await;
    let asked = mock
        .seen()
        .into_iter()
        .find(|s| s.path.ends_with("/codex/models"))
        .unwrap();
    assert!(asked.header("version").is_some());
    let (s, v) = ask(&gw, mock::FUTURE_MODEL).await;
    assert_eq!(s, 200, "{v}");
    let sent = mock.responses().pop().unwrap();
    assert_eq!(sent.header("version"), Some(mock::FUTURE_VERSION));
    assert!(sent
        .header("user-agent")
        .unwrap()
        .starts_with(&format!("codex_cli_rs/{} (", mock::FUTURE_VERSION)));
    // The catalog was asked for ungated, so the new model was there to see.
    let listed = gw.get("/v1/models", &[]).await.1;
    assert!(listed.contains(mock::FUTURE_MODEL), "{listed}");
    gw.stop().await;
}

#[tokio::test]
async fn an_explicit_version_wins_and_a_too_old_refusal_names_the_version_and_moves_nothing() {
    let mock = Mock::start().await;
    let gw = Gateway::start(
        &mock,
        &["a", "b"],
        "client_version = \"0.169.0\"\n[admin]\ntoken = \"admin-secret\"\n",
    )
    .await;
    catalog_loaded(&gw).await;
    let (s, v) = ask(&gw, mock::FUTURE_MODEL).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error"]["code"], "client_version_too_old");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains(mock::FUTURE_VERSION) && msg.contains("0.169.0"),
        "{msg}"
    );
    assert_eq!(mock.accounts_hit(), ["a"], "no failover");
    assert_eq!(mock.responses()[0].header("version"), Some("0.169.0"));
    let list = accounts(&gw).await;
    assert_eq!(
        (state_of(&list, "a"), state_of(&list, "b")),
        ("ready".into(), "ready".into())
    );
    // Still the configured version afterwards: explicit wins over learned.
    ask(&gw, "gpt-5.4").await;
    assert_eq!(
        mock.responses().pop().unwrap().header("version"),
        Some("0.169.0")
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_newer_codex_cli_on_the_native_route_teaches_the_gateway_its_version() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a"], "").await;
    catalog_loaded(&gw).await;
    let body = json!({"model": "gpt-5.4", "stream": true, "store": false, "instructions": "",
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}]});
    let resp = gw
        .client()
        .post(gw.url("/backend-api/codex/responses"))
        .header("content-type", "application/json")
        .header("originator", "codex_exec")
        .header("version", "0.199.1")
        .header(
            "user-agent",
            "codex_exec/0.199.1 (Debian 12.0.0; x86_64) xterm",
        )
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let _ = resp.text().await;
    let native = mock.responses().pop().unwrap();
    assert_eq!(
        native.header("version"),
        Some("0.199.1"),
        "the CLI's own identity"
    );
    assert!(native
        .header("user-agent")
        .unwrap()
        .starts_with("codex_exec/0.199.1"));
    ask(&gw, "gpt-5.4").await;
    assert_eq!(
        mock.responses().pop().unwrap().header("version"),
        Some("0.199.1")
    );
    gw.stop().await;
}

#[tokio::test]
async fn the_native_catalog_leaves_out_what_the_callers_version_cannot_use() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a"], "").await;
    catalog_loaded(&gw).await;
    let get = |q: &'static str| {
        let c = gw.client();
        let url = gw.url(&format!("/backend-api/codex/models{q}"));
        async move {
            let r = c.get(url).send().await.unwrap();
            let etag = r.headers()["etag"].to_str().unwrap().to_string();
            let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
            let slugs: Vec<String> = v["models"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["slug"].as_str().unwrap().to_string())
                .collect();
            (slugs, etag)
        }
    };
    let (old, old_tag) = get("?client_version=0.171.0").await;
    assert!(!old.contains(&mock::FUTURE_MODEL.to_string()));
    assert!(old.contains(&"gpt-6.2-sol".to_string()));
    let (all, all_tag) = get("?client_version=0.200.0").await;
    assert!(all.contains(&mock::FUTURE_MODEL.to_string()));
    assert_ne!(old_tag, all_tag);
    assert_eq!(
        all.len(),
        mock::models_answer()["models"].as_array().unwrap().len()
    );
    gw.stop().await;
}

/// Item: models from the catalog, not from constants.
#[tokio::test]
async fn claude_names_and_retired_names_resolve_to_the_catalogs_roles() {
    let mock = Mock::start().await;
    // The real catalog no longer lists gpt-5.4: a mock plan cannot hide it, so
    // this checks the Claude names and the listing; retired names are unit-tested.
    let gw = Gateway::start(&mock, &["a"], "").await;
    catalog_loaded(&gw).await;
    let msg = |model: &str| json!({"model": model, "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]});
    let (s, _, text) = gw.post("/v1/messages", &msg("claude-sonnet-4-5")).await;
    assert_eq!(s, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v["model"], "gpt-6.2-sol",
        "the answer names the model that served"
    );
    assert_eq!(mock.responses().pop().unwrap().body["model"], "gpt-6.2-sol");
    gw.post("/v1/messages", &msg("claude-haiku-4-5-20251001"))
        .await;
    assert_eq!(
        mock.responses().pop().unwrap().body["model"],
        "gpt-5.4-mini"
    );
    gw.post("/v1/messages", &msg("claude-opus-4-1")).await;
    assert_eq!(mock.responses().pop().unwrap().body["model"], "gpt-6.2-sol");
    gw.stop().await;
}

#[tokio::test]
async fn v1_models_lists_what_the_pool_can_serve_with_the_aliases_resolved() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a"], "").await;
    catalog_loaded(&gw).await;
    let (s, text) = gw.get("/v1/models", &[]).await;
    assert_eq!(s, 200);
    let v: Value = serde_json::from_str(&text).unwrap();
    let data = v["data"].as_array().unwrap();
    let ids: Vec<&str> = data.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert!(
        ids.contains(&"gpt-6.2-sol") && ids.contains(&mock::FUTURE_MODEL),
        "{ids:?}"
    );
    assert!(
        !ids.contains(&"gpt-6.2-astra"),
        "no account's plan (plus) has it: {ids:?}"
    );
    let alias = |id: &str| {
        data.iter()
            .find(|m| m["id"] == id)
            .map(|m| m["alias_for"].clone())
    };
    assert_eq!(alias("claude-*sonnet*"), Some(json!("gpt-6.2-sol")));
    assert_eq!(alias("claude-*haiku*"), Some(json!("gpt-5.4-mini")));
    assert_eq!(
        alias("gpt-5.4"),
        Some(Value::Null),
        "the catalog lists it: a model, not an alias"
    );
    gw.stop().await;
}

#[tokio::test]
async fn fast_selects_the_priority_tier_where_the_model_has_one() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a"], "").await;
    catalog_loaded(&gw).await;
    let (s, v) = ask(&gw, "gpt-6.2-sol-fast").await;
    assert_eq!(s, 200, "{v}");
    let sent = mock.responses().pop().unwrap();
    assert_eq!(sent.body["model"], "gpt-6.2-sol");
    assert_eq!(sent.body["service_tier"], "priority");
    assert_eq!(v["model"], "gpt-6.2-sol");
    ask(&gw, "gpt-6.1-nano-fast").await;
    let sent = mock.responses().pop().unwrap();
    assert_eq!(sent.body["model"], "gpt-6.1-nano");
    assert!(
        sent.body.get("service_tier").is_none(),
        "no priority tier for it"
    );
    gw.stop().await;
}
