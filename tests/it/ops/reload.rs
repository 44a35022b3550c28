//! Config reloads: by the admin API, by the file watcher, by SIGHUP; a
//! stream in flight finishes on its snapshot; an invalid file keeps the old
//! config and names every problem; account state survives; keys that need a
//! restart are named; every reload is counted by outcome.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::process::Signal;
use crate::support::*;

async fn ask(gw: &Gateway) -> (u16, reqwest::header::HeaderMap, String) {
    gw.post("/v1/chat/completions", &chat("gpt-5.4", "x")).await
}

#[tokio::test]
async fn reload_under_a_running_stream() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .accounts(&["a", "b"])
        .admin(ADMIN)
        .start()
        .await;
    let events = mock::text_events("gpt-5.4", &["one", " two", " three", " four", " five"]);
    mock.script("a", Script::Slow(events, Duration::from_millis(120)));
    let stream = gw.post_later("/v1/chat/completions", &chat_stream("gpt-5.4", "long"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    // New config: b first, and a client key appears.
    gw.reconfigure(|b| {
        b.accounts(&["b", "a"])
            .admin(ADMIN)
            .key("k", |k| k.secret("sk-new-key-123"))
    });
    let (status, text) = gw.reload().await;
    assert_eq!(status, 200, "{text}");
    let (_, _, text) = stream.await.unwrap();
    assert_eq!(
        streamed_content(&text),
        "one two three four five",
        "the stream finished on its snapshot"
    );
    assert!(text.contains("[DONE]"));
    // The next request sees the new config: a key is now required, and b is primary.
    assert_eq!(ask(&gw).await.0, 401);
    let (s, h, _) = gw
        .post_as(
            "sk-new-key-123",
            "/v1/chat/completions",
            &chat("gpt-5.4", "x"),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(h["x-codex-pool-account"], "b");
}

/// A valid reload counts `ok`; an invalid file is refused with every
/// problem named, counted `invalid`, and the old config serves on.
#[tokio::test]
async fn an_invalid_reload_keeps_the_old_config_reports_every_problem_and_is_counted() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .account("a")
        .admin(ADMIN)
        .start()
        .await;
    assert_eq!(gw.reload().await.0, 200);
    let s = gw.scrape().await;
    assert_eq!(value(&s, RELOADS, &[("outcome", "ok")]), 1.0);
    assert_eq!(value(&s, RELOADS, &[("outcome", "invalid")]), 0.0);

    gw.write_config("[pool]\nstrategy = \"random\"\n[server]\ncolour = 1\n");
    let (status, text) = gw.reload().await;
    assert_eq!(status, 400, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["error"]["code"], "invalid_config");
    let keys: Vec<&str> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&"pool.strategy") && keys.contains(&"server.colour"),
        "{keys:?}"
    );
    // (The watcher may count the same file once more.)
    let s = gw
        .scrape_until("the invalid reload", |s| {
            metric(s, RELOADS, &[("outcome", "invalid")]).is_some_and(|v| v >= 1.0)
        })
        .await;
    assert_eq!(value(&s, RELOADS, &[("outcome", "ok")]), 1.0);
    // Still serving with the old config (no keys, account a).
    let (s, h, _) = ask(&gw).await;
    assert_eq!(s, 200);
    assert_eq!(h["x-codex-pool-account"], "a");
}

#[tokio::test]
async fn a_changed_file_is_reloaded_by_the_watcher() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).accounts(&["a", "b"]).start().await;
    tokio::time::sleep(Duration::from_millis(200)).await; // the watcher is up
    gw.reconfigure(|b| {
        b.accounts(&["a", "b"])
            .toml("[pool]\nstrategy = \"round_robin\"")
            .key("w", |k| k.secret("sk-watch-1234"))
    });
    eventually!(ask(&gw).await.0 == 401, "the file change was not picked up");
    let (s, _, _) = gw
        .post_as(
            "sk-watch-1234",
            "/v1/chat/completions",
            &chat("gpt-5.4", "x"),
        )
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn account_state_survives_a_reload() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .accounts(&["a", "b"])
        .admin(ADMIN)
        .start()
        .await;
    mock.script("a", usage_limit(3600));
    assert_eq!(ask(&gw).await.1["x-codex-pool-account"], "b");
    assert_eq!(gw.reload().await.0, 200);
    assert_eq!(
        ask(&gw).await.1["x-codex-pool-account"],
        "b",
        "a is still cooling"
    );
    assert_eq!(mock.accounts_hit(), ["a", "b", "b"]);
}

#[tokio::test]
async fn reload_names_the_keys_that_wait_for_a_restart() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .account("a")
        .admin(ADMIN)
        .start()
        .await;
    gw.reconfigure(|b| {
        b.account("a").admin(ADMIN).toml(
            "[server]\nmax_inflight = 7\nmax_inflight_body_bytes = 99999999\n[log]\nlevel = \"debug\"",
        )
    });
    let (status, text) = gw.reload().await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v["restart_required"],
        json!([
            "server.max_inflight",
            "server.max_inflight_body_bytes",
            "log.level"
        ])
    );
}

#[tokio::test]
async fn sighup_reloads_the_config() {
    let mock = Mock::start().await;
    let mut gw = Gateway::builder(&mock).account("a").spawn().await;
    assert_eq!(ask(&gw).await.0, 200);
    // Nothing changed on disk, so only SIGHUP can have made this reload.
    let reloads = |s: &str| metric(s, RELOADS, &[("outcome", "ok")]).unwrap_or(0.0);
    assert_eq!(reloads(&gw.scrape().await), 0.0);
    gw.process().signal(Signal::HUP);
    gw.scrape_until("the reload SIGHUP asked for", |s| reloads(s) == 1.0)
        .await;
    assert_eq!(ask(&gw).await.0, 200);
    assert!(gw.process().is_running(), "SIGHUP must not end the process");
}
