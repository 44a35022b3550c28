//! Chat Completions request → codex-responses body, as `server::chat::handle`
//! does it: `ChatRequest::parse`, `into_responses`, `Upstream::into_bytes`.

use std::hint::black_box;

use codex_pool::translate::chat::ChatRequest;
use criterion::{Criterion, Throughput};
use serde_json::{json, Value};

/// A one-question request.
pub fn small_request() -> Vec<u8> {
    json!({
        "model": "gpt-5.4",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What is the capital of France?"}
        ],
        "temperature": 0.2
    })
    .to_string()
    .into_bytes()
}

/// A coding-agent turn: a system prompt, 8 function tools with JSON schemas, and
/// 100 messages cycling user → assistant tool call → tool result → assistant text.
pub fn agent_request(messages: usize) -> Vec<u8> {
    let tools: Vec<Value> = (0..8)
        .map(|i| {
            json!({"type": "function", "function": {
                "name": format!("tool_{i}"),
                "description": "Reads a file of the workspace and returns its contents with line numbers.",
                "parameters": {"type": "object", "properties": {
                    "path": {"type": "string", "description": "path relative to the workspace root"},
                    "start": {"type": "integer", "minimum": 1},
                    "end": {"type": "integer", "minimum": 1}
                }, "required": ["path"], "additionalProperties": false}
            }})
        })
        .collect();
    let mut msgs = vec![
        json!({"role": "system", "content": "You are a coding agent. Use the tools to read files before answering. Keep answers short."}),
    ];
    let mut i = 0;
    while msgs.len() < messages {
        let call_id = format!("call_{i:04}");
        let m = match i % 4 {
            0 => {
                json!({"role": "user", "content": format!("Question {i}: what does src/module_{i}.rs do? Explain the error handling, naming the functions that return errors.")})
            }
            1 => {
                json!({"role": "assistant", "content": null, "tool_calls": [{"id": call_id, "type": "function",
                    "function": {"name": "tool_1", "arguments": format!("{{\"path\":\"src/module_{i}.rs\",\"start\":1,\"end\":200}}")}}]})
            }
            2 => json!({"role": "tool", "tool_call_id": format!("call_{:04}", i - 1),
                    "content": "1  //! A module.\n2  use std::io;\n3  pub fn run() -> io::Result<()> {\n4      Ok(())\n5  }\n".repeat(6)}),
            _ => {
                json!({"role": "assistant", "content": "The module exposes `run`, which returns `io::Result<()>`; errors come from the file system and are passed up with `?`. Nothing is retried."})
            }
        };
        msgs.push(m);
        i += 1;
    }
    json!({"model": "gpt-5.4", "messages": msgs, "tools": tools, "tool_choice": "auto",
        "reasoning_effort": "medium", "stream": true, "stream_options": {"include_usage": true}})
    .to_string()
    .into_bytes()
}

fn translate(body: &[u8]) -> usize {
    let chat = ChatRequest::parse(body).expect("valid request");
    let t = chat
        .into_responses(None, "bench-seed")
        .expect("translatable request");
    t.into_bytes().expect("serializable body").len()
}

pub fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("chat_request");
    for (name, body) in [
        ("small", small_request()),
        ("100_messages_8_tools", agent_request(100)),
    ] {
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(name, |b| b.iter(|| translate(black_box(&body))));
    }
    g.finish();
}
