//! `/v1/messages` `stop_sequences`, applied by the gateway: capped in number
//! and length, and a match ends the client's message at once and drops the
//! upstream stream (which ends the generation) instead of waiting for it.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::*;

fn messages(stops: serde_json::Value, stream: bool) -> serde_json::Value {
    json!({"model": "gpt-5.4", "max_tokens": 100, "stream": stream,
        "stop_sequences": stops,
        "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn a_matched_stop_sequence_ends_the_stream_and_the_upstream_answer() {
    let mock = Mock::start().await;
    // " part1" arrives after 300 ms, " part19" after about 6 s.
    mock.set_default_stream(20, Duration::from_millis(300));
    let gw = Gateway::builder(&mock).account("a").start().await;
    let started = Instant::now();
    let (status, _, body) = gw
        .post("/v1/messages", &messages(json!(["part2"]), true))
        .await;
    let took = started.elapsed();
    assert_eq!(status, 200, "{body}");
    let frames = sse_data(&body);
    let text: String = frames
        .iter()
        .filter_map(|v| v["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "Hello part1 ");
    let delta = frames
        .iter()
        .find(|v| v["type"] == "message_delta")
        .unwrap();
    assert_eq!(delta["delta"]["stop_reason"], "stop_sequence");
    assert_eq!(frames.last().unwrap()["type"], "message_stop");
    assert!(
        took < Duration::from_secs(4),
        "waited for upstream: {took:?}"
    );
    // The upstream stream was dropped, not read to its end.
    let mut cancelled = 0;
    for _ in 0..50 {
        cancelled = mock.cancelled_streams();
        if cancelled > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(cancelled, 1);
    gw.stop().await;
}

#[tokio::test]
async fn stop_sequences_past_the_caps_are_a_400_before_upstream() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
    let many: Vec<String> = (0..65).map(|i| format!("s{i}")).collect();
    let (status, _, body) = gw.post("/v1/messages", &messages(json!(many), false)).await;
    assert_eq!(status, 400, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(body.contains("stop_sequences"), "{body}");
    let long = "x".repeat(1025);
    let (status, _, _) = gw
        .post("/v1/messages", &messages(json!([long]), true))
        .await;
    assert_eq!(status, 400);
    assert!(mock.responses().is_empty(), "nothing reached upstream");
    // At the caps, served.
    let fits: Vec<String> = (0..64).map(|i| format!("{i:0>1024}")).collect();
    let (status, _, body) = gw.post("/v1/messages", &messages(json!(fits), false)).await;
    assert_eq!(status, 200, "{body}");
    gw.stop().await;
}
