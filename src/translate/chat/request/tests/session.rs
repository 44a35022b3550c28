//! The backend's fixed rules on every body, sessions, and stream options.

use super::*;

// ---- backend rules, session, stream options --------------------------------

#[test]
fn body_always_carries_the_backend_rules() {
    let t = ok(with(
        json!({"store": true, "stream": false, "include": ["x"], "instructions": "client"}),
    ));
    assert_eq!(t.body["store"], json!(false));
    assert_eq!(t.body["stream"], json!(true));
    assert_eq!(t.body["include"], json!(["reasoning.encrypted_content"]));
    assert_eq!(t.body["instructions"], json!(""));
    assert_eq!(t.body["model"], "gpt-5.4");
    assert_eq!(t.body["prompt_cache_key"], json!(t.session_id));
    assert!(!t.session_id.is_empty());
    assert!(!t.stream, "the client asked for a JSON answer");
    assert!(ok(with(json!({"stream": true}))).stream);
    assert!(!ok(with(json!({}))).stream);
}

#[test]
fn include_usage_comes_from_stream_options() {
    let usage = |v: Value| {
        ChatRequest::parse(with(v).to_string().as_bytes())
            .unwrap()
            .include_usage()
    };
    assert!(usage(
        json!({"stream": true, "stream_options": {"include_usage": true}})
    ));
    assert!(!usage(
        json!({"stream": true, "stream_options": {"include_usage": false}})
    ));
    assert!(!usage(json!({"stream": true, "stream_options": {}})));
    assert!(!usage(json!({"stream": true})));
}

fn session(body: Value, hint: Option<&str>, seed: &str) -> Upstream {
    ChatRequest::parse(body.to_string().as_bytes())
        .unwrap()
        .into_responses(hint, seed)
        .map(flat)
        .unwrap()
}

#[test]
fn prompt_cache_key_from_the_client_wins_over_the_session_hint() {
    let t = session(
        with(json!({"prompt_cache_key": "pck-1"})),
        Some("hint-1"),
        "seed",
    );
    assert_eq!(t.session_id, "pck-1");
    assert_eq!(t.body["prompt_cache_key"], "pck-1");
}

#[test]
fn session_hint_is_used_without_a_prompt_cache_key() {
    let t = session(with(json!({})), Some("hint-1"), "seed");
    assert_eq!(t.session_id, "hint-1");
    assert_eq!(t.body["prompt_cache_key"], "hint-1");
}

#[test]
fn blank_hint_falls_back_to_a_derived_uuid() {
    let derived = session(with(json!({})), None, "seed").session_id;
    let t = session(with(json!({})), Some("  "), "seed");
    assert_eq!(t.session_id, derived);
    assert_eq!(t.body["prompt_cache_key"], json!(derived));
    let u = uuid::Uuid::parse_str(&derived).unwrap();
    assert_eq!(u.get_version_num(), 4);
}

#[test]
fn empty_prompt_cache_key_falls_back_to_the_session_hint() {
    let t = session(
        with(json!({"prompt_cache_key": ""})),
        Some("hint-1"),
        "seed",
    );
    assert_eq!(t.session_id, "hint-1");
}

#[test]
fn derived_session_id_is_stable_across_turns_and_differs_per_opening_and_seed() {
    let turn1 = messages(json!([
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "first question"},
    ]));
    let turn2 = messages(json!([
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "an answer", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "r"},
        {"role": "system", "content": "a later note"},
        {"role": "user", "content": "second question"},
    ]));
    let s1 = session(turn1.clone(), None, "key-a").session_id;
    let s2 = session(turn2, None, "key-a").session_id;
    assert_eq!(s1, s2, "later turns keep the session");
    assert_eq!(
        session(turn1.clone(), None, "key-a").session_id,
        s1,
        "deterministic"
    );

    let other_opening = messages(json!([
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "another question"},
    ]));
    assert_ne!(session(other_opening, None, "key-a").session_id, s1);
    let other_instructions = messages(json!([
        {"role": "system", "content": "other sys"},
        {"role": "user", "content": "first question"},
    ]));
    assert_ne!(session(other_instructions, None, "key-a").session_id, s1);
    assert_ne!(
        session(turn1, None, "key-b").session_id,
        s1,
        "a different seed isolates clients"
    );
}
