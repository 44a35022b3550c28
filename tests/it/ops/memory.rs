//! Memory bounds for one request, measured on the real binary: an 8 MiB body
//! of tiny JSON values must not make the gateway's peak RSS (`VmHWM`) balloon
//! (serde_json objects cost ~600 B each, so tiny parts multiply a body ~90×).
//! The request may be refused with a 400 naming the field, or served; a body
//! that fills every count limit (`translate::limits`) is served, also under
//! the bound.

use serde_json::Value;

use crate::support::*;

/// The peak RSS the gateway may reach serving these bodies.
const PEAK_LIMIT_KB: u64 = 256 * 1024;
/// The size of each hostile body.
const BODY_BYTES: usize = 8 << 20;

/// `head`, then `item` repeated (comma-separated) until the body is
/// `BODY_BYTES` long, then `tail`.
fn body_of(head: &str, item: &str, tail: &str) -> Vec<u8> {
    let mut b = Vec::with_capacity(BODY_BYTES + item.len() + tail.len());
    b.extend_from_slice(head.as_bytes());
    b.extend_from_slice(item.as_bytes());
    while b.len() + tail.len() < BODY_BYTES {
        b.push(b',');
        b.extend_from_slice(item.as_bytes());
    }
    b.extend_from_slice(tail.as_bytes());
    b
}

/// A gateway process whose body cap lets these bodies in, and that waits
/// for the mock as long as it takes to read them (in debug, beside every
/// other test, that can pass the 5 s the other tests allow).
async fn served(mock: &Mock) -> Gateway {
    mock.set_record(false);
    Gateway::builder(mock)
        .account("a")
        .toml(format!(
            "[server]\nmax_body_bytes = {}\n[upstream]\nidle_timeout = \"60s\"",
            4 * BODY_BYTES
        ))
        .spawn()
        .await
}

/// The process's peak resident set so far, in kB.
fn peak_kb(gw: &mut Gateway) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", gw.process().pid())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

async fn post(gw: &Gateway, path: &str, body: Vec<u8>) -> (u16, String) {
    let resp = gw
        .client()
        .post(gw.url(path))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

/// `n` copies of `item`, comma-separated.
fn many(item: &str, n: usize) -> String {
    vec![item; n].join(",")
}

/// Sends `body` twice (freed memory stays in allocator arenas, so a second
/// request shows whether the peak keeps climbing) and checks the answers and
/// the peak RSS. `param` is the field a refusal must name; `None`: the
/// request must be served.
async fn assert_bounded(path: &str, body: Vec<u8>, param: Option<&str>) {
    let mock = Mock::start().await;
    let mut gw = served(&mock).await;
    let idle = peak_kb(&mut gw);
    for round in 0..2 {
        let (status, text) = post(&gw, path, body.clone()).await;
        let peak = peak_kb(&mut gw);
        eprintln!("{path} round {round}: {status}, VmHWM {peak} kB (idle {idle} kB)");
        assert!(
            peak < PEAK_LIMIT_KB,
            "{path}: peak RSS {peak} kB after round {round} (idle {idle} kB), limit {PEAK_LIMIT_KB} kB"
        );
        match status {
            200 => {}
            400 if param.is_some() => {
                let v: Value =
                    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
                assert_eq!(v["error"]["type"], "invalid_request_error", "{text}");
                assert_eq!(v["error"]["param"].as_str(), param, "{text}");
            }
            other => panic!("expected a 400 or a 200, got {other}: {text}"),
        }
    }
}

#[tokio::test]
async fn an_8_mib_chat_body_of_tiny_content_parts_stays_under_256_mb() {
    let body = body_of(
        r#"{"model":"gpt-5.4","messages":[{"role":"user","content":["#,
        r#"{"type":"text","text":""}"#,
        "]}]}",
    );
    assert_bounded("/v1/chat/completions", body, Some("messages[0].content")).await;
}

#[tokio::test]
async fn an_8_mib_responses_body_of_tiny_input_items_stays_under_256_mb() {
    let body = body_of(r#"{"model":"gpt-5.4","input":["#, r#"{"type":"x"}"#, "]}");
    assert_bounded("/v1/responses", body, Some("input")).await;
}

#[tokio::test]
async fn a_chat_body_at_the_limits_is_served_under_256_mb() {
    // 70 000 image parts, each carrying a nested object: 140 000 objects,
    // near the 150 000 allowed.
    let part = r#"{"type":"input_image","image_url":"http://x","z":{"a":1}}"#;
    let message = format!(r#"{{"role":"user","content":[{}]}}"#, many(part, 10_000));
    let body = format!(
        r#"{{"model":"gpt-5.4","messages":[{}]}}"#,
        many(&message, 7)
    );
    assert_bounded("/v1/chat/completions", body.into_bytes(), None).await;
}

#[tokio::test]
async fn a_responses_body_at_the_limits_is_served_under_256_mb() {
    // 10 000 items of three objects each, and tiny objects up to the budget.
    let item = r#"{"type":"message","role":"user","content":[{"type":"input_text","text":""}],"x":{"a":1}}"#;
    let body = format!(
        r#"{{"model":"gpt-5.4","input":[{}],"y":[{}]}}"#,
        many(item, 10_000),
        many(r#"{"a":1}"#, 119_000)
    );
    assert_bounded("/v1/responses", body.into_bytes(), None).await;
}
