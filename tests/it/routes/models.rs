//! `/v1/models`: the upstream catalog (read whole, though it is far past the
//! error-body cap, and its refreshes counted), hidden models left out, one
//! model by id; without upstream, the built-in catalog, said to be built-in.

use serde_json::Value;

use crate::support::*;

const MODELS_REFRESHES: &str = "codex_pool_models_refreshes_total";

/// The upstream's models, as `/v1/models` lists them (the `[models]`
/// aliases listed after them are the gateway's own).
fn listed(text: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(text).unwrap();
    assert_eq!(v["object"], "list");
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["owned_by"] != "codex-pool-alias")
        .cloned()
        .collect()
}

#[tokio::test]
async fn models_come_from_upstream_whole_past_the_error_body_cap() {
    let mock = Mock::start().await;
    // The mock serves a list the size of the real one, each model with its prompt.
    let list = client()
        .get(format!("{}/models", mock.base_url()))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(
        list.len() >= mock::MODELS_LIST_MIN_BYTES,
        "{} bytes",
        list.len()
    );
    mock.clear();

    let gw = Gateway::builder(&mock).account("a").start().await;
    gw.scrape_until("a models refresh", |s| {
        metric(s, MODELS_REFRESHES, &[("outcome", "ok")]).is_some_and(|v| v >= 1.0)
    })
    .await;
    let (s, text) = gw.get("/v1/models", &[]).await;
    assert_eq!(s, 200);
    let data = listed(&text);
    let ids: Vec<&str> = data.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        ["gpt-5.4", "gpt-5.4-mini", "legacy-prompt-model"],
        "upstream's list, hidden models left out"
    );
    for m in &data {
        assert_eq!(m["owned_by"], "openai", "not the built-in list: {m}");
    }
    let models_call = mock
        .seen()
        .into_iter()
        .find(|s| s.path.ends_with("/models"))
        .unwrap();
    assert_eq!(models_call.header("chatgpt-account-id"), Some("a"));
    let (s, text) = gw.get("/v1/models/gpt-5.4", &[]).await;
    assert_eq!(s, 200);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["id"], "gpt-5.4");
    assert_eq!(v["object"], "model");
    let (s, text) = gw.get("/v1/models/nope", &[]).await;
    assert_eq!(s, 404);
    assert!(text.contains("model_not_found"));
}

#[tokio::test]
async fn without_upstream_the_builtin_catalog_is_served_and_the_failure_counted() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .account("a")
        .toml("[upstream]\nbase_url = \"http://127.0.0.1:9/backend-api/codex\"\nissuer = \"http://127.0.0.1:9\"\nconnect_timeout = \"200ms\"")
        .start()
        .await;
    let scrape = gw
        .scrape_until("a failed models refresh", |s| {
            metric(s, MODELS_REFRESHES, &[("outcome", "error")]).is_some_and(|v| v >= 1.0)
        })
        .await;
    assert_eq!(
        metric(&scrape, MODELS_REFRESHES, &[("outcome", "ok")]),
        None
    );
    let (s, text) = gw.get("/v1/models", &[]).await;
    assert_eq!(s, 200);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(v["data"].as_array().unwrap().len() >= 3);
    assert_eq!(v["data"][0]["owned_by"], "codex-pool-builtin");
}
