//! The backend as of 2026-12 (docs/upstream.md §12), from the pool's side:
//! every row of the failure table, per-account model eligibility, credits
//! past a window. Each test asserts what reached upstream and what the
//! accounts' state became.

use serde_json::{json, Value};

use crate::support::*;

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

fn state_of(list: &[Value], name: &str) -> String {
    let a = list.iter().find(|a| a["name"] == name).unwrap();
    a["state"].as_str().unwrap().to_string()
}

fn builder(mock: &Mock, plans: &[(&str, &str)]) -> Builder {
    let mut b = Gateway::builder(mock).admin("admin-secret");
    for (name, plan) in plans {
        b = b.account(name).login(Login::default().plan(plan));
    }
    b
}

/// Waits until the gateway holds upstream's catalog (a model only it lists).
async fn catalog_loaded(gw: &Gateway) {
    for _ in 0..100 {
        if gw.get("/v1/models", &[]).await.1.contains("gpt-6.1-codex") {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    panic!("the catalog never loaded");
}

#[tokio::test]
async fn a_safety_block_reaches_the_client_untouched_and_moves_nothing() {
    let mock = Mock::start().await;
    let gw = builder(&mock, &[("a", "plus"), ("b", "plus")])
        .start()
        .await;
    let words = "This content can't be shown. It may involve cybersecurity; ask about Trusted Access for Cyber.";
    let body = json!({"error": {"code": "cyber_policy", "message": words}}).to_string();
    mock.script("a", Script::Status(400, body, vec![]));
    let (s, v) = ask(&gw, "gpt-5.4").await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error"]["message"], words);
    assert_eq!(v["error"]["code"], "cyber_policy");
    assert_eq!(mock.accounts_hit(), ["a"], "never failed over");
    assert_eq!(state_of(&gw.accounts().await, "a"), "ready");
    gw.stop().await;
}

#[tokio::test]
async fn cloudflare_520_and_challenges_fail_over_with_a_short_cooldown() {
    let mock = Mock::start().await;
    let gw = builder(&mock, &[("a", "plus"), ("b", "plus")])
        .start()
        .await;
    let html = "<!DOCTYPE html><html><title>chatgpt.com | 520: Web server is returning an unknown error</title></html>";
    mock.script("a", Script::Status(520, html.into(), vec![]));
    let (s, _) = ask(&gw, "gpt-5.4").await;
    assert_eq!(s, 200);
    assert_eq!(mock.accounts_hit(), ["a", "b"]);
    let list = gw.accounts().await;
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
    let gw = builder(&mock, &[("a", "plus"), ("b", "plus")])
        .start()
        .await;
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
        state_of(&gw.accounts().await, "a"),
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
    let gw = builder(&mock, &[("a", "plus")]).start().await;
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
    let gw = builder(&mock, &[("a", "plus"), ("b", "plus")])
        .start()
        .await;
    let refusal = json!({"error": {"type": "invalid_request_error", "code": "unsupported_value", "param": "tools",
        "message": "Unsupported value: 'namespace' is not supported with this model."}});
    mock.script("a", Script::Status(400, refusal.to_string(), vec![]));
    let (s, v) = ask(&gw, "gpt-5.4").await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(mock.accounts_hit(), ["a"]);
    assert_eq!(state_of(&gw.accounts().await, "a"), "ready");
    gw.stop().await;
}

#[tokio::test]
async fn an_account_with_credits_past_its_window_keeps_serving_and_shows_them() {
    let mock = Mock::start().await;
    let gw = builder(&mock, &[("a", "plus"), ("b", "plus")])
        .start()
        .await;
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
    let quota = gw.account("a").await["quota"].clone();
    assert_eq!(quota["credits"]["has_credits"], true, "{quota}");
    assert_eq!(quota["active_limit"], "credits", "{quota}");
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
    let gw = builder(&mock, &[("a", "plus"), ("b", "pro")]).start().await;
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
    let gw = builder(&mock, &[("a", "pro"), ("b", "pro")]).start().await;
    catalog_loaded(&gw).await;
    let (s, v) = ask(&gw, "gpt-6.2-astra").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(mock.accounts_hit(), ["a", "b"]);
    let list = gw.accounts().await;
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
    let gw = builder(&mock, &[("a", "plus"), ("b", "team")])
        .start()
        .await;
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
    let list = gw.accounts().await;
    assert_eq!(
        (state_of(&list, "a"), state_of(&list, "b")),
        ("ready".into(), "ready".into())
    );
    gw.stop().await;
}

#[tokio::test]
async fn an_organization_refusal_tries_the_next_account_and_cools_nothing() {
    let mock = Mock::start().await;
    let gw = builder(&mock, &[("a", "plus"), ("b", "plus")])
        .start()
        .await;
    let refusal = json!({"error": {"type": "invalid_request_error", "code": "unsupported_parameter",
        "param": "access_programs.cyber", "message": "Unsupported parameter: 'access_programs.cyber' is not supported for this organization."}});
    mock.script("a", Script::Status(400, refusal.to_string(), vec![]));
    let (s, v) = ask(&gw, "gpt-5.4").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(mock.accounts_hit(), ["a", "b"]);
    assert_eq!(state_of(&gw.accounts().await, "a"), "ready");
    gw.stop().await;
}
