//! What upstream may send, by size: a real-sized models list is read whole
//! (and its refreshes are counted), and events held back before the first
//! output stop being held once they add up past the byte cap.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

const REFRESHES: &str = "codex_pool_models_refreshes_total";

/// Scrapes until `name{labels}` is at least 1.
async fn counted(gw: &Gateway, name: &str, labels: &[(&str, &str)]) -> String {
    let mut scrape = String::new();
    for _ in 0..100 {
        scrape = gw.get("/metrics", &[]).await.1;
        if metric(&scrape, name, labels).is_some_and(|v| v >= 1.0) {
            return scrape;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{name}{labels:?} never counted:\n{scrape}");
}

#[tokio::test]
async fn a_models_list_far_past_the_error_body_cap_comes_from_upstream() {
    let mock = Mock::start().await;
    // The mock serves a list the size of the real one, each model with its prompt.
    let list = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("{}/models?client_version=0.0.0", mock.base_url()))
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

    let gw = Gateway::start(&mock, &["a"], "").await;
    counted(&gw, REFRESHES, &[("outcome", "ok")]).await;
    let (s, text) = gw.get("/v1/models", &[]).await;
    assert_eq!(s, 200);
    let v: Value = serde_json::from_str(&text).unwrap();
    // The [models] aliases listed after the models are the gateway's own.
    let data: Vec<&Value> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["owned_by"] != "codex-pool-alias")
        .collect();
    let ids: Vec<&str> = data.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, mock::listed_for_plan("plus"));
    for m in data {
        assert_eq!(m["owned_by"], "openai", "not the built-in list: {m}");
    }
    gw.stop().await;
}

#[tokio::test]
async fn a_models_refresh_that_fails_is_counted() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_auth(
        &dir.path().join("a.json"),
        "a",
        &access_token("a", 3600),
        "rt",
    );
    let text = "[upstream]\nbase_url = \"http://127.0.0.1:9/backend-api/codex\"\nissuer = \"http://127.0.0.1:9\"\nconnect_timeout = \"200ms\"\n[[accounts]]\nname = \"a\"\nauth_file = \"a.json\"\n";
    let gw = Gateway::start_with(&mock, dir, text).await;
    let scrape = counted(&gw, REFRESHES, &[("outcome", "error")]).await;
    assert_eq!(metric(&scrape, REFRESHES, &[("outcome", "ok")]), None);
    let (_, models) = gw.get("/v1/models", &[]).await;
    assert!(models.contains("codex-pool-builtin"), "{models}");
    gw.stop().await;
}

/// Two 5 MiB events before any output pass the 8 MiB hold-back cap: the
/// stream is handed to the client then, so a failure after them is the
/// client's to see, not a reason to send the request to a second account
/// (whose stream would be held, and bought, again).
#[tokio::test]
async fn held_back_events_past_the_byte_cap_are_relayed_not_replayed() {
    let mock = Mock::start().await;
    let gw = Gateway::start(&mock, &["a", "b"], "").await;
    let big = |n: u32| {
        json!({"type": "response.web_search_call.searching", "item_id": format!("ws_{n}"),
            "pad": "p".repeat(5 * 1024 * 1024)})
    };
    mock.script(
        "a",
        Script::Events(vec![
            json!({"type": "response.created", "response": {"id": "resp_1", "model": "gpt-5.4"}}),
            big(1),
            big(2),
            json!({"type": "response.failed", "response": {"error": {"code": "server_is_overloaded", "message": "busy"}}}),
        ]),
    );
    let mut body = chat("gpt-5.4", "hi");
    body["stream"] = json!(true);
    let (s, h, text) = gw.post("/v1/chat/completions", &body).await;
    assert_eq!(s, 200);
    assert_eq!(h["x-codex-pool-account"], "a");
    assert_eq!(mock.accounts_hit(), ["a"], "no second account was asked");
    let frames = sse_data(&text);
    assert_eq!(
        frames.last().map(|f| f["error"]["code"].clone()),
        Some(json!("server_is_overloaded")),
        "{frames:?}"
    );
    gw.stop().await;
}
