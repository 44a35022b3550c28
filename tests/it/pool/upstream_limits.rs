//! What upstream may send, by size: events held back before the first output
//! stop being held once they add up past the byte cap. (A models list far
//! past the error-body cap: `routes/models.rs`.)

use serde_json::json;

use crate::support::*;

/// Two 5 MiB events before any output pass the 8 MiB hold-back cap: the
/// stream is handed to the client then, so a failure after them is the
/// client's to see, not a reason to send the request to a second account
/// (whose stream would be held, and bought, again).
#[tokio::test]
async fn held_back_events_past_the_byte_cap_are_relayed_not_replayed() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).accounts(&["a", "b"]).start().await;
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
}
