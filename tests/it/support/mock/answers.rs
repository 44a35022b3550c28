//! What the mock answers: realistic event streams (text, tool calls), the
//! default turn and the scripted agent turn, and the models list in the
//! backend's own shape.

use bytes::Bytes;
use serde_json::{json, Value};

/// The only instructions `legacy-prompt-model` accepts (as in 2025-08..12).
pub const LEGACY_PROMPT: &str = "You are Codex, based on GPT-5.";

/// At least this many bytes in the mock's `/models` answer: the real list
/// carries each model's prompts and is about 300 KB, far past the gateway's
/// 64 KiB error-body cap.
pub const MODELS_LIST_MIN_BYTES: usize = 300 * 1024;

/// A model's own system prompt, about 110 KB (three of them make the list
/// `MODELS_LIST_MIN_BYTES`), with the quotes and newlines a real one has.
pub(super) fn model_prompt(slug: &str) -> String {
    let para = format!("You are Codex ({slug}), a coding agent. Follow the user's \"instructions\"; keep edits small.\n\n");
    para.repeat(110 * 1024 / para.len() + 1)
}

/// The answer when nothing is scripted: with tools and no tool output yet, a
/// call of the first function tool; after a tool output, text quoting it;
/// otherwise `deltas` text deltas ("Hello", " part1", …).
pub fn default_answer(body: &Value, model: &str, deltas: usize) -> Vec<Value> {
    let last = body
        .get("input")
        .and_then(Value::as_array)
        .and_then(|a| a.last());
    if let Some(out) = last.filter(|i| i["type"] == "function_call_output") {
        let text = format!("The tool said: {}", out["output"].as_str().unwrap_or(""));
        return text_events(model, &[&text]);
    }
    let tool = body.get("tools").and_then(Value::as_array).and_then(|t| {
        t.iter()
            .find(|t| t["type"] == "function")
            .and_then(|t| t["name"].as_str())
    });
    if let Some(name) = tool {
        // The Codex CLI's shell tools get a command it can run.
        let args = match name {
            "exec_command" => r#"{"cmd":"echo codex-pool-tool-ran"}"#,
            "shell_command" => r#"{"command":"echo codex-pool-tool-ran"}"#,
            "shell" => r#"{"command":["echo","codex-pool-tool-ran"]}"#,
            _ => r#"{"path":"README.md"}"#,
        };
        return tool_call_events(model, name, args, true);
    }
    let parts: Vec<String> = (0..deltas.max(1))
        .map(|i| {
            if i == 0 {
                "Hello".to_string()
            } else {
                format!(" part{i}")
            }
        })
        .collect();
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    text_events(model, &refs)
}

/// A tool loop (`Mock::set_tool_loop`): while the input offers a function
/// tool and holds fewer than `n` tool outputs, a call of that tool (its call
/// id numbered by the outputs so far); `None` after that.
pub fn loop_answer(body: &Value, model: &str, n: usize) -> Option<Vec<Value>> {
    let input = body.get("input").and_then(Value::as_array)?;
    let done = input
        .iter()
        .filter(|i| i["type"] == "function_call_output")
        .count();
    if done >= n {
        return None;
    }
    let name = body
        .get("tools")
        .and_then(Value::as_array)?
        .iter()
        .find_map(|t| {
            (t["type"] == "function")
                .then(|| t["name"].as_str())
                .flatten()
        })?;
    let mut events = tool_call_events(model, name, r#"{"path":"README.md"}"#, true);
    let id = format!("call_{done}");
    for e in &mut events {
        if e["item"]["call_id"] == "call_abc" {
            e["item"]["call_id"] = json!(id);
        }
    }
    Some(events)
}

/// The scripted agent turn (`Mock::set_bash_command`): a request offering a
/// `Bash` tool gets a call running `command` until a tool output comes back,
/// then text quoting that output. `None` for requests without the tool.
pub fn bash_answer(body: &Value, model: &str, command: &str) -> Option<Vec<Value>> {
    let offers_bash = body
        .get("tools")
        .and_then(Value::as_array)?
        .iter()
        .any(|t| t["type"] == "function" && t["name"] == "Bash");
    if !offers_bash {
        return None;
    }
    let input = body.get("input").and_then(Value::as_array)?;
    if let Some(out) = input
        .iter()
        .rev()
        .find(|i| i["type"] == "function_call_output")
    {
        let output = match &out["output"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        return Some(text_events(model, &[&format!("The tool said: {output}")]));
    }
    let args = json!({"command": command, "description": "Create the requested file"}).to_string();
    Some(tool_call_events(model, "Bash", &args, true))
}

/// A realistic successful stream for `model`.
pub fn text_events(model: &str, text_parts: &[&str]) -> Vec<Value> {
    let text: String = text_parts.concat();
    let mut ev = vec![
        json!({"type": "response.created", "response": {"id": "resp_mock1", "model": model, "status": "in_progress", "output": []}}),
        json!({"type": "response.in_progress", "response": {"id": "resp_mock1", "model": model}}),
        json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "reasoning", "id": "rs_1", "summary": []}}),
        json!({"type": "response.reasoning_summary_part.added", "item_id": "rs_1", "summary_index": 0}),
        json!({"type": "response.reasoning_summary_text.delta", "item_id": "rs_1", "delta": "Thinking briefly."}),
        json!({"type": "response.output_item.done", "output_index": 0, "item": {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Thinking briefly."}], "encrypted_content": "enc"}}),
        json!({"type": "response.output_item.added", "output_index": 1, "item": {"type": "message", "id": "msg_1", "role": "assistant", "content": []}}),
    ];
    for p in text_parts {
        ev.push(json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 1, "content_index": 0, "delta": p}));
    }
    ev.push(json!({"type": "response.output_item.done", "output_index": 1, "item": {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed", "content": [{"type": "output_text", "text": text, "annotations": []}]}}));
    ev.push(completed(model, vec![]));
    ev
}

pub fn completed(model: &str, output: Vec<Value>) -> Value {
    json!({"type": "response.completed", "response": {"id": "resp_mock1", "object": "response", "model": model, "status": "completed", "output": output,
        "usage": {"input_tokens": 21, "input_tokens_details": {"cached_tokens": 5}, "output_tokens": 9, "output_tokens_details": {"reasoning_tokens": 3}, "total_tokens": 30}}})
}

/// A stream that ends in a function call.
pub fn tool_call_events(model: &str, name: &str, arguments: &str, with_deltas: bool) -> Vec<Value> {
    let mut ev = vec![
        json!({"type": "response.created", "response": {"id": "resp_tool", "model": model}}),
        json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "function_call", "id": "fc_1", "call_id": "call_abc", "name": name, "arguments": ""}}),
    ];
    if with_deltas {
        let mid = arguments.len() / 2;
        for part in [&arguments[..mid], &arguments[mid..]] {
            ev.push(json!({"type": "response.function_call_arguments.delta", "item_id": "fc_1", "output_index": 0, "delta": part}));
        }
    }
    ev.push(json!({"type": "response.output_item.done", "output_index": 0, "item": {"type": "function_call", "id": "fc_1", "call_id": "call_abc", "name": name, "arguments": arguments, "status": "completed"}}));
    ev.push(completed(model, vec![]));
    ev
}

pub fn sse_bytes(events: &[Value]) -> Vec<Bytes> {
    events
        .iter()
        .map(|e| {
            let name = e.get("type").and_then(Value::as_str).unwrap_or("message");
            Bytes::from(format!("event: {name}\ndata: {e}\n\n"))
        })
        .collect()
}

/// A model object in the backend's ModelInfo shape: every field the Codex
/// CLI requires (it refuses the whole list when one is missing), and the
/// model's own prompt.
pub(super) fn model_info(slug: &str, display: &str, visibility: &str, instructions: &str) -> Value {
    json!({"slug": slug, "display_name": display, "description": format!("{display} (mock)"),
        "context_window": 272000, "visibility": visibility, "supported_in_api": true, "priority": 1,
        "default_reasoning_level": "medium",
        "supported_reasoning_levels": [{"effort": "low", "description": "low"}, {"effort": "medium", "description": "medium"}, {"effort": "high", "description": "high"}],
        "shell_type": "shell_command", "support_verbosity": false,
        "truncation_policy": {"mode": "tokens", "limit": 10000},
        "experimental_supported_tools": [], "input_modalities": ["text", "image"],
        "base_instructions": instructions})
}

/// The `total_tokens` of the `response.completed` among `events`.
pub fn usage_total(events: &[Value]) -> u64 {
    events
        .iter()
        .filter_map(|e| e.pointer("/response/usage/total_tokens"))
        .filter_map(Value::as_u64)
        .sum()
}
