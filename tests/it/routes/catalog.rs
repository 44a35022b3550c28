//! Keeping up with the backend's catalog (docs/upstream.md §12, §11): the
//! Codex version sent, models and aliases from the catalog, `-fast`, and the
//! native catalog gated by the caller's version.

use serde_json::{json, Value};

use crate::support::*;

async fn ask(gw: &Gateway, model: &str) -> (u16, Value) {
    let (s, _, text) = gw.post("/v1/chat/completions", &chat(model, "hi")).await;
    (
        s,
        serde_json::from_str(&text).unwrap_or(json!({"raw": text})),
    )
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

/// Item: the Codex version sent follows the backend.
#[tokio::test]
async fn auto_sends_the_newest_version_the_catalog_needs_and_serves_a_model_from_tomorrow() {
    let mock = Mock::start().await;
    let gw = builder(&mock, &[("a", "plus")]).start().await;
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
    let gw = builder(&mock, &[("a", "plus"), ("b", "plus")])
        .toml("[upstream]\nclient_version = \"0.169.0\"")
        .start()
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
    let list = gw.accounts().await;
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
    let gw = builder(&mock, &[("a", "plus")]).start().await;
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
    let gw = builder(&mock, &[("a", "plus")]).start().await;
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
    let gw = builder(&mock, &[("a", "plus")]).start().await;
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
    let gw = builder(&mock, &[("a", "plus")]).start().await;
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
    let gw = builder(&mock, &[("a", "plus")]).start().await;
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
