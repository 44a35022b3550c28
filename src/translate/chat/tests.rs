use super::*;

fn translate(v: Value) -> Result<Translated, Invalid> {
    ChatRequest::parse(v.to_string().as_bytes())?.into_responses(None, "seed")
}

#[test]
fn leading_system_becomes_instructions() {
    let t = translate(json!({"model": "m", "messages": [
        {"role": "system", "content": "A"}, {"role": "developer", "content": "B"},
        {"role": "user", "content": "hi"}, {"role": "system", "content": "late"}]}))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.body["instructions"], "A\n\nB");
    assert_eq!(t.body["input"][1]["role"], "developer");
    assert_eq!(t.body["input"][1]["content"][0]["text"], "late");
}
