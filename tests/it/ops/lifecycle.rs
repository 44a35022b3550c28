//! The process's life, on the real binary: SIGTERM drains a stream in flight
//! and exits zero; JSON logs carry the request id and no token; `/metrics`
//! may have a listener of its own.

use std::time::Duration;

use serde_json::Value;

use crate::support::process::Signal;
use crate::support::*;

#[tokio::test]
async fn sigterm_drains_a_stream_then_exits_zero() {
    let mock = Mock::start().await;
    let mut gw = Gateway::builder(&mock)
        .account("a")
        .toml("[server]\nshutdown_grace = \"10s\"")
        .spawn()
        .await;
    let events = mock::text_events("gpt-5.4", &["a", "b", "c", "d", "e", "f"]);
    mock.script("a", Script::Slow(events, Duration::from_millis(150)));
    let stream = gw.post_later("/v1/chat/completions", &chat_stream("gpt-5.4", "x"));
    tokio::time::sleep(Duration::from_millis(400)).await;
    gw.process().signal(Signal::TERM);
    let (_, _, text) = stream.await.unwrap();
    assert_eq!(
        streamed_content(&text),
        "abcdef",
        "the in-flight stream was drained, not cut"
    );
    assert!(text.contains("[DONE]"));
    let status = gw.process().wait_exit(Duration::from_secs(15)).await;
    assert!(status.success(), "exit status {status:?}:\n{}", gw.log());
    assert!(
        gw.client().get(gw.url("/healthz")).send().await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn json_logs_carry_the_request_id() {
    let mock = Mock::start().await;
    let mut gw = Gateway::builder(&mock)
        .accounts(&["a", "b"])
        .toml("[log]\nformat = \"json\"")
        .spawn()
        .await;
    mock.script("a", plain(500, "boom"));
    let (s, _, _) = gw
        .post_with(
            "/v1/chat/completions",
            &chat("gpt-5.4", "hi"),
            &[("x-request-id", "trace-77")],
        )
        .await;
    assert_eq!(s, 200);
    gw.process().stop(Duration::from_secs(10)).await;
    let text = gw.log();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let failover = lines
        .iter()
        .find(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.contains("failing over"))
        })
        .expect("a failover line");
    assert_eq!(failover["request_id"], "trace-77");
    assert_eq!(failover["account"], "a");
    assert_eq!(failover["reason"], "server_error");
    assert!(!text.contains("Bearer"), "no token in logs");
}

#[tokio::test]
async fn metrics_can_have_their_own_listener() {
    let mock = Mock::start().await;
    let mut gw = Gateway::builder(&mock)
        .account("a")
        .toml("[metrics]\nlisten = \"127.0.0.1:0\"")
        .spawn()
        .await;
    let metrics = gw
        .process()
        .logged_addr("metrics listening on http://")
        .await;
    let scrape = client()
        .get(format!("http://{metrics}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(scrape.status(), 200);
    let text = scrape.text().await.unwrap();
    assert!(text.contains("codex_pool_build_info"), "{text}");
    let api = client()
        .get(format!("http://{metrics}/v1/models"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(api, 404, "the metrics listener serves only /metrics");
}

/// The runtime's worker threads, as the start line reports them.
fn workers(gw: &Gateway) -> String {
    let log = gw.log();
    let line = log
        .lines()
        .find(|l| l.contains("listening on"))
        .unwrap_or("");
    line.split_whitespace()
        .find_map(|f| f.strip_prefix("workers="))
        .unwrap_or_else(|| panic!("no workers= in the start line: {line}"))
        .to_string()
}

#[tokio::test]
async fn worker_threads_sets_the_runtimes_workers() {
    let mock = Mock::start().await;
    let one = Gateway::builder(&mock)
        .account("a")
        .toml("[server]\nworker_threads = 1")
        .spawn()
        .await;
    let (status, _, _) = one
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(status, 200, "{}", one.log());
    let sent = mock.seen();
    let turns: Vec<_> = sent
        .iter()
        .filter(|s| s.path.ends_with("/responses"))
        .collect();
    assert_eq!(turns.len(), 1, "the request reached upstream once");
    assert_eq!(turns[0].body["input"][0]["content"][0]["text"], "hi");
    assert_eq!(workers(&one), "1");
    let three = Gateway::builder(&mock)
        .account("a")
        .toml("[server]\nworker_threads = 3")
        .spawn()
        .await;
    assert_eq!(workers(&three), "3");
}
