//! The mock's model of state a conversation keeps on one account, as the
//! backend does (`docs/upstream.md` §9): encrypted reasoning content and
//! turn-state tokens bound to the account that produced them, and a prompt
//! cache per account and session (cached tokens = the prefix of this input
//! that the same session's previous input on the same account shared).

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::HashMap;

use serde_json::{json, Value};

/// Per-account conversation state, for the mock's `conversation mode`.
#[derive(Default)]
pub struct Sim {
    counter: u64,
    /// (account, session) → the previous request's input items, serialized.
    cache: HashMap<(String, String), Vec<String>>,
}

/// What the mock answers one request with in conversation mode.
pub enum Verdict {
    /// 400 with this body: another account's blob or turn-state.
    Refuse(Value),
    /// The events of a good answer, and the turn-state header it mints.
    Answer(Vec<Value>, String),
}

fn tokens(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(4)
}

impl Sim {
    pub fn answer(
        &mut self,
        account: &str,
        turn_state: Option<&str>,
        body: &Value,
        model: &str,
    ) -> Verdict {
        let items = body["input"].as_array().cloned().unwrap_or_default();
        for item in &items {
            let blob = item["encrypted_content"].as_str();
            if let Some(blob) =
                blob.filter(|_| matches!(item["type"].as_str(), Some("reasoning" | "compaction")))
            {
                if !blob.starts_with(&format!("enc:{account}:")) {
                    return Verdict::Refuse(
                        json!({"error": {"code": "invalid_encrypted_content", "type": "invalid_request_error",
                        "message": "Encrypted content organization_id did not match the target organization."}}),
                    );
                }
            }
        }
        if let Some(t) = turn_state.filter(|t| !t.starts_with(&format!("ts:{account}:"))) {
            return Verdict::Refuse(
                json!({"error": {"code": "invalid_turn_state", "message": format!("turn state {t} is not valid here")}}),
            );
        }
        let session = body["prompt_cache_key"].as_str().unwrap_or("").to_string();
        let serialized: Vec<String> = items.iter().map(Value::to_string).collect();
        let key = (account.to_string(), session);
        let shared: usize = match self.cache.get(&key) {
            Some(prev) => prev
                .iter()
                .zip(&serialized)
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a.len())
                .sum(),
            None => 0,
        };
        let total: usize = serialized.iter().map(String::len).sum();
        self.cache.insert(key, serialized);
        self.counter += 1;
        let n = self.counter;
        let blob = format!("enc:{account}:{n}");
        let reasoning = json!({"type": "reasoning", "id": format!("rs_{n}"),
            "summary": [{"type": "summary_text", "text": format!("thinking {n}")}], "encrypted_content": blob});
        let text = format!("answer {n} from {account}");
        let message = json!({"type": "message", "id": format!("msg_{n}"), "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}]});
        let usage = json!({"input_tokens": tokens(total), "input_tokens_details": {"cached_tokens": tokens(shared)},
            "output_tokens": 10, "output_tokens_details": {"reasoning_tokens": 5}, "total_tokens": tokens(total) + 10});
        let id = format!("resp_{n}");
        let events = vec![
            json!({"type": "response.created", "response": {"id": id, "model": model, "status": "in_progress"}}),
            json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "reasoning", "id": format!("rs_{n}"), "summary": []}}),
            json!({"type": "response.output_item.done", "output_index": 0, "item": reasoning}),
            json!({"type": "response.output_item.added", "output_index": 1, "item": {"type": "message", "id": format!("msg_{n}"), "role": "assistant", "content": []}}),
            json!({"type": "response.output_text.delta", "output_index": 1, "item_id": format!("msg_{n}"), "content_index": 0, "delta": text}),
            json!({"type": "response.output_item.done", "output_index": 1, "item": message}),
            json!({"type": "response.completed", "response": {"id": id, "model": model, "status": "completed",
                "output": [reasoning, message], "usage": usage}}),
        ];
        Verdict::Answer(events, format!("ts:{account}:{n}"))
    }
}
