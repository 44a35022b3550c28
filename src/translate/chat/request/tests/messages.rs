//! System, developer and user messages and their content parts.

use super::*;

#[test]
fn golden_full_request_translates_to_the_expected_body() {
    let t = ChatRequest::parse(GOLDEN_REQUEST.as_bytes())
        .unwrap()
        .into_responses(Some("hint-ignored"), "seed")
        .map(flat)
        .unwrap();
    let expected: Value = serde_json::from_str(GOLDEN_BODY).unwrap();
    assert_eq!(
        t.body,
        expected,
        "actual body:\n{}",
        serde_json::to_string_pretty(&t.body).unwrap()
    );
    assert_eq!(t.model, "gpt-5.4");
    assert!(t.stream);
    assert!(ChatRequest::parse(GOLDEN_REQUEST.as_bytes())
        .unwrap()
        .include_usage());
    assert_eq!(t.session_id, "conv-1234");
}

// ---- system / developer ----------------------------------------------------

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

#[test]
fn later_system_and_developer_messages_stay_in_place_as_developer_messages() {
    let t = ok(messages(json!([
        {"role": "developer", "content": "rules"},
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
        {"role": "developer", "content": "mid-dev"},
        {"role": "system", "content": [{"type": "text", "text": "mid-"}, {"type": "input_text", "text": "sys"}]},
        {"role": "user", "content": "q2"},
    ])));
    assert_eq!(t.body["instructions"], "rules");
    assert_eq!(
        input(&t),
        &vec![
            json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "q1"}]}),
            json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a1"}]}),
            json!({"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "mid-dev"}]}),
            json!({"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "mid-sys"}]}),
            json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "q2"}]}),
        ]
    );
}

#[test]
fn system_text_parts_are_joined_and_a_missing_system_gives_empty_instructions() {
    let t = ok(messages(json!([
        {"role": "system", "content": [{"type": "text", "text": "one "}, {"type": "text", "text": "two"}]},
        {"role": "user", "content": "hi"},
    ])));
    assert_eq!(t.body["instructions"], "one two");
    assert_eq!(input(&t).len(), 1);

    let t = ok(with(json!({})));
    assert_eq!(t.body["instructions"], json!(""));
}

#[test]
fn system_message_with_an_image_part_is_refused_naming_the_part() {
    let e = err(messages(json!([
        {"role": "system", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
        {"role": "user", "content": "hi"},
    ])));
    assert_invalid(&e, "messages[0].content[0]", "invalid_request_error");
}

// ---- user content ----------------------------------------------------------

#[test]
fn user_string_content_becomes_one_input_text() {
    let t = ok(with(json!({})));
    assert_eq!(
        input(&t),
        &vec![
            json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]})
        ]
    );
}

#[test]
fn user_parts_map_text_and_every_image_url_form_to_input_items() {
    let t = ok(messages(json!([{"role": "user", "content": [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
        {"type": "image_url", "image_url": "http://example.com/b.png"},
        {"type": "image_url", "image_url": "data:image/jpeg;base64,BBBB"},
        {"type": "input_text", "text": "already responses"},
        {"type": "input_image", "image_url": "https://example.com/c.png", "detail": "high"},
    ]}])));
    assert_eq!(
        t.body["input"][0]["content"],
        json!([
            {"type": "input_text", "text": "look"},
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"},
            {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "auto"},
            {"type": "input_image", "image_url": "http://example.com/b.png", "detail": "auto"},
            {"type": "input_image", "image_url": "data:image/jpeg;base64,BBBB", "detail": "auto"},
            {"type": "input_text", "text": "already responses"},
            {"type": "input_image", "image_url": "https://example.com/c.png", "detail": "high"},
        ])
    );
}

#[test]
fn image_url_that_is_not_data_or_http_is_refused_naming_the_url() {
    for bad in [
        json!({"url": "file:///etc/passwd"}),
        json!({"url": ""}),
        json!({"detail": "low"}),
        json!("ftp://x/y.png"),
        json!(42),
    ] {
        let e = err(messages(json!([{"role": "user", "content": [
            {"type": "text", "text": "x"}, {"type": "image_url", "image_url": bad.clone()},
        ]}])));
        assert_invalid(
            &e,
            "messages[0].content[1].image_url.url",
            "invalid_request_error",
        );
    }
}

#[test]
fn file_parts_become_input_file() {
    let t = ok(messages(json!([{"role": "user", "content": [
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"}},
        {"type": "file", "file": {"file_id": "file-123"}},
        {"type": "input_file", "file_url": "https://example.com/x.pdf"},
    ]}])));
    assert_eq!(
        t.body["input"][0]["content"],
        json!([
            {"type": "input_file", "file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"},
            {"type": "input_file", "file_id": "file-123"},
            {"type": "input_file", "file_url": "https://example.com/x.pdf"},
        ])
    );
}

#[test]
fn an_empty_file_part_is_refused() {
    for part in [
        json!({"type": "file", "file": {}}),
        json!({"type": "file"}),
        json!({"type": "input_file"}),
    ] {
        let e = err(messages(
            json!([{"role": "user", "content": [part.clone()]}]),
        ));
        assert_invalid(&e, "messages[0].content[0].file", "invalid_request_error");
        assert!(e.message.contains("file_data"), "{}", e.message);
    }
}

#[test]
fn a_file_part_with_only_a_filename_is_refused() {
    let e = err(messages(json!([{"role": "user", "content": [
        {"type": "file", "file": {"filename": "a.pdf"}},
    ]}])));
    assert_invalid(&e, "messages[0].content[0].file", "invalid_request_error");
}

#[test]
fn input_audio_is_an_unsupported_parameter_naming_the_part() {
    let e = err(messages(json!([{"role": "user", "content": [
        {"type": "text", "text": "listen"},
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
    ]}])));
    assert_invalid(&e, "messages[0].content[1]", "unsupported_parameter");
    assert!(e.message.contains("audio"), "{}", e.message);
}

#[test]
fn an_unknown_user_part_type_names_its_type_field() {
    let e = err(messages(
        json!([{"role": "user", "content": [{"type": "video_url", "video_url": "x"}]}]),
    ));
    assert_invalid(&e, "messages[0].content[0].type", "invalid_request_error");
    assert!(e.message.contains("video_url"), "{}", e.message);
    let e = err(messages(
        json!([{"role": "user", "content": [{"type": "text"}]}]),
    ));
    assert_invalid(&e, "messages[0].content[0].text", "invalid_request_error");
}

#[test]
fn user_content_missing_null_or_a_number_is_refused_naming_the_content() {
    for content in [json!(null), json!(5), json!(true), json!({"text": "x"})] {
        let e = err(messages(
            json!([{"role": "user", "content": content.clone()}]),
        ));
        assert_invalid(&e, "messages[0].content", "invalid_request_error");
    }
    let e = err(messages(json!([{"role": "user"}])));
    assert_invalid(&e, "messages[0].content", "invalid_request_error");
    let e = err(messages(json!([{"role": "user", "content": 5}])));
    assert!(e.message.contains("a number"), "{}", e.message);
}
