//! A conversation stays on one account whichever door its turns come in by:
//! replicas share where each conversation lives.

use serde_json::json;

use crate::support::*;

/// One turn of conversation `session` at `gw`: the account that served it.
async fn turn(gw: &Gateway, session: &str) -> String {
    let body = json!({"model": "gpt-5.4", "prompt_cache_key": session,
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}]});
    let (status, headers, text) = gw.post("/v1/responses", &body).await;
    assert_eq!(status, 200, "{text}");
    headers["x-codex-pool-account"]
        .to_str()
        .unwrap()
        .to_string()
}

on_both! {
    async fn a_conversation_alternating_doors_stays_on_one_account(d) {
        let mock = Mock::start().await;
        let b = Gateway::builder(&mock)
            .accounts(&["a", "b"])
            .toml("[pool]\nstrategy = \"round_robin\"");
        let gws = d.start(b).await;
        let mut on = Vec::new();
        for i in 0..8 {
            let gw = gws.door(i);
            // New conversations in between turn each door's wheel, by
            // different amounts, so that its own placement would differ.
            for j in 0..(1 + i % 2) {
                turn(gw, &format!("other-{i}-{j}")).await;
            }
            on.push(turn(gw, "conv-x").await);
        }
        assert!(on.iter().all(|a| *a == on[0]), "{on:?}");
    }
}
