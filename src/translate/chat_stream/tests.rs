use super::*;
use serde_json::json;

#[test]
fn text_delta_becomes_a_content_chunk_after_the_role_chunk() {
    let mut s = ChatStream::new("m", 1, false);
    let mut out = BytesMut::new();
    let step = s.push(&json!({"type": "response.output_text.delta", "delta": "hi"}).to_string(), &mut out);
    assert_eq!(step, Step::Continue);
    let text = String::from_utf8_lossy(&out).to_string();
    let frames: Vec<&str> = text.split("\n\n").filter(|f| !f.is_empty()).collect();
    assert_eq!(frames.len(), 2);
    assert!(frames[0].contains(r#""role":"assistant""#));
    assert!(frames[1].contains(r#""content":"hi""#));
}
