//! Failures inside the stream, and the cached-prefix framing.

use super::*;

// ---- failures --------------------------------------------------------------------

#[test]
fn response_failed_is_a_failed_step_with_an_error_frame_carrying_the_upstream_code() {
    let mut s = ChatStream::new("m", 1, true);
    let (f, steps) = run(
        &mut s,
        &[
            text("par"),
            json!({"type": "response.failed", "response": {"id": "resp_f", "status": "failed",
                "error": {"code": "server_is_overloaded", "message": "Our servers are busy."}}}),
        ],
    );
    let expected = Failure::StreamFailed {
        code: Some("server_is_overloaded".into()),
        message: "Our servers are busy.".into(),
    };
    assert_eq!(steps, [Step::Continue, Step::Failed(expected.clone())]);
    assert_eq!(
        f.len(),
        3,
        "role, text, error — no finish, no usage, no [DONE]: {f:?}"
    );
    let err = &f[2];
    assert_eq!(
        err.as_object().unwrap().len(),
        1,
        "only an error key: {err}"
    );
    assert_eq!(err["error"]["code"], "server_is_overloaded");
    assert_eq!(err["error"]["type"], "upstream_error");
    assert!(err["error"]["param"].is_null());
    assert_eq!(err["error"]["message"], expected.to_string());
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Our servers are busy."));
    assert!(!f.contains(&json!(DONE)));
}

#[test]
fn response_failed_with_a_client_fault_code_keeps_that_code() {
    let mut s = ChatStream::new("m", 1, false);
    let (f, steps) = run(
        &mut s,
        &[
            json!({"type": "response.failed", "response": {"error": {"code": "context_length_exceeded", "message": "too long"}}}),
        ],
    );
    assert!(
        matches!(&steps[0], Step::Failed(Failure::StreamFailed { code: Some(c), .. }) if c == "context_length_exceeded")
    );
    assert_eq!(
        f,
        [
            json!({"error": {"message": "upstream stream failed (context_length_exceeded): too long",
        "type": "upstream_error", "param": null, "code": "context_length_exceeded"}})
        ]
    );
}

#[test]
fn top_level_error_events_fail_the_stream_too() {
    let mut s = ChatStream::new("m", 1, false);
    let (f, steps) = run(
        &mut s,
        &[json!({"type": "error", "code": "invalid_prompt", "message": "bad prompt"})],
    );
    assert_eq!(
        steps[0],
        Step::Failed(Failure::StreamFailed {
            code: Some("invalid_prompt".into()),
            message: "bad prompt".into()
        })
    );
    assert_eq!(f[0]["error"]["code"], "invalid_prompt");
}

#[test]
fn failed_without_details_still_writes_an_error_frame() {
    let mut s = ChatStream::new("m", 1, false);
    let (f, steps) = run(
        &mut s,
        &[json!({"type": "response.failed", "response": {"status": "failed"}})],
    );
    assert!(matches!(
        &steps[0],
        Step::Failed(Failure::StreamFailed { code: None, .. })
    ));
    assert_eq!(f[0]["error"]["code"], "upstream_stream_failed");
    assert!(!f[0]["error"]["message"].as_str().unwrap().is_empty());
}

#[test]
fn rate_limit_failure_frame_uses_the_classified_client_code() {
    let mut s = ChatStream::new("m", 1, false);
    let (f, steps) = run(
        &mut s,
        &[
            json!({"type": "response.failed", "response": {"error": {"code": "rate_limit_exceeded", "message": "Rate limit reached. Please try again in 12s."}}}),
        ],
    );
    let Step::Failed(failure) = &steps[0] else {
        panic!("{steps:?}")
    };
    assert!(
        matches!(failure, Failure::RateLimited { .. }),
        "{failure:?}"
    );
    assert_eq!(f[0]["error"]["code"], json!(failure.client_code()));
}

#[test]
fn error_frame_writes_one_openai_error_envelope() {
    let mut out = BytesMut::new();
    error_frame(&Failure::StreamTruncated, &mut out);
    let text = std::str::from_utf8(&out).unwrap();
    assert!(
        text.starts_with("data: {") && text.ends_with("}\n\n"),
        "{text:?}"
    );
    assert_eq!(
        frames(&out),
        [
            json!({"error": {"message": "upstream stream ended before response.completed",
            "type": "upstream_error", "param": null, "code": "upstream_stream_truncated"}})
        ]
    );

    let mut out = BytesMut::new();
    let f = Failure::StreamFailed {
        code: Some("server_is_overloaded".into()),
        message: "busy \"now\"\nplease".into(),
    };
    error_frame(&f, &mut out);
    let v = frames(&out);
    assert_eq!(v[0]["error"]["code"], "server_is_overloaded");
    assert!(v[0]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("busy \"now\"\nplease"));
}

// ---- ignored input --------------------------------------------------------------------

#[test]
fn unknown_and_lifecycle_only_events_write_nothing() {
    let mut s = ChatStream::new("m", 1, true);
    let (f, steps) = run(
        &mut s,
        &[
            json!({"type": "response.web_search_call.searching", "item_id": "ws_1"}),
            json!({"type": "response.content_part.added", "item_id": "msg_1", "part": {"type": "output_text", "text": ""}}),
            json!({"type": "response.output_text.done", "item_id": "msg_1", "text": "full"}),
            json!({"type": "response.function_call_arguments.done", "item_id": "fc_1", "arguments": "{}"}),
            json!({"type": "response.something_new", "delta": "should not appear"}),
            json!({"type": "codex.rate_limits", "primary": {"used_percent": 10}}),
            created("resp_q", "gpt-5.4"),
        ],
    );
    assert!(f.is_empty(), "{f:?}");
    assert!(steps.iter().all(|s| *s == Step::Continue));
}

#[test]
fn malformed_event_json_is_ignored() {
    let mut s = ChatStream::new("m", 1, false);
    let mut out = BytesMut::new();
    for bad in [
        "",
        "not json",
        "{\"delta\":\"no type\"}",
        "[1,2]",
        "{\"type\":",
    ] {
        assert_eq!(feed(&mut s, bad, &mut out), Step::Continue, "{bad:?}");
    }
    assert!(out.is_empty());
    assert_eq!(
        feed(&mut s, &text("ok").to_string(), &mut out),
        Step::Continue
    );
    assert_eq!(concat(&frames(&out), "content"), "ok");
}

#[test]
fn the_cached_prefix_frames_byte_for_byte_like_serde() {
    let mut s = ChatStream::new("gpt-5.4 \"quoted\"", 1_700_000_000, false);
    s.id = "chatcmpl-é\u{1}".into();
    s.build_prefix();
    let deltas = [
        (
            Delta {
                content: Some("a \"b\"\n\u{2028}"),
                ..Delta::default()
            },
            None,
        ),
        (
            Delta {
                reasoning_content: Some("think"),
                ..Delta::default()
            },
            None,
        ),
        (Delta::default(), Some("tool_calls")),
    ];
    for (delta, finish) in deltas {
        let mut fast = BytesMut::new();
        s.choice(
            &mut fast,
            Delta {
                ..delta_clone(&delta)
            },
            finish,
        );
        let mut slow = BytesMut::new();
        let choice = Choice {
            index: 0,
            delta,
            logprobs: None,
            finish_reason: finish,
        };
        s.frame(&mut slow, Some(choice), None);
        assert_eq!(
            String::from_utf8_lossy(&fast),
            String::from_utf8_lossy(&slow)
        );
    }
}

fn delta_clone<'a>(d: &Delta<'a>) -> Delta<'a> {
    Delta {
        role: d.role,
        content: d.content,
        reasoning_content: d.reasoning_content,
        refusal: d.refusal,
        tool_calls: None,
    }
}
