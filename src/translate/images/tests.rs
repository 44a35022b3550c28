use bytes::BytesMut;
use serde_json::json;

use super::stream::ImageStream;
use super::*;
use crate::translate::convert::{feed, Convert, Step};

fn parse(v: Value) -> Result<ImageRequest, Invalid> {
    ImageRequest::from_json(v.to_string().as_bytes())
}

fn param(v: Value) -> Option<String> {
    parse(v).unwrap_err().param
}

#[test]
fn options_become_the_forced_tools_and_the_prompt_its_input() {
    let r = parse(
        json!({"prompt": "a fox", "size": "1536x1024", "quality": "high",
        "background": "opaque", "output_format": "webp", "output_compression": 80,
        "moderation": "low", "user": "u1", "response_format": "b64_json"}),
    )
    .unwrap();
    assert_eq!((r.n, r.stream, r.model.as_str()), (1, false, "gpt-image-1"));
    let png = InputImage {
        mime: "image/png",
        bytes: bytes::Bytes::from_static(b"\x89PNG\r\n\x1a\nxx"),
    };
    let up = r.upstream(
        "gpt-5.4",
        std::slice::from_ref(&png),
        Some(&png),
        "s1".into(),
    );
    let b = &up.body;
    assert_eq!(b["tool_choice"], json!({"type": "image_generation"}));
    assert_eq!(b["store"], false);
    assert_eq!(b["stream"], true);
    assert_eq!(b["model"], "gpt-5.4");
    let tool = &b["tools"][0];
    assert_eq!(tool["type"], "image_generation");
    assert_eq!(tool["size"], "1536x1024");
    assert_eq!(tool["quality"], "high");
    assert_eq!(tool["output_compression"], 80);
    assert_eq!(tool["moderation"], "low");
    assert!(
        tool.get("partial_images").is_none(),
        "only a stream has partial images"
    );
    let mask = tool["input_image_mask"]["image_url"].as_str().unwrap();
    assert!(
        mask.starts_with("data:image/png;base64,iVBORw0KGg"),
        "{mask}"
    );
    let content = &b["input"][0]["content"];
    assert_eq!(content[0], json!({"type": "input_text", "text": "a fox"}));
    assert_eq!(content[1]["type"], "input_image");
    assert!(b.get("user").is_none(), "the backend refuses 'user'");
}

#[test]
fn bad_input_names_its_field() {
    assert_eq!(param(json!({"size": "1024x1024"})), Some("prompt".into()));
    assert_eq!(param(json!({"prompt": "  "})), Some("prompt".into()));
    for size in ["huge", "1000x1000", "4096x4096", "1024x16", "0x0", "auto2"] {
        assert_eq!(
            param(json!({"prompt": "p", "size": size})),
            Some("size".into()),
            "{size}"
        );
    }
    assert!(parse(json!({"prompt": "p", "size": "1536x864"})).is_ok());
    assert_eq!(param(json!({"prompt": "p", "n": 0})), Some("n".into()));
    assert_eq!(param(json!({"prompt": "p", "n": 11})), Some("n".into()));
    assert_eq!(param(json!({"prompt": "p", "n": "x"})), Some("n".into()));
    assert_eq!(
        param(json!({"prompt": "p", "quality": "hd"})),
        Some("quality".into())
    );
    assert_eq!(
        param(json!({"prompt": "p", "output_format": "bmp"})),
        Some("output_format".into())
    );
    assert_eq!(
        param(json!({"prompt": "p", "output_compression": 101})),
        Some("output_compression".into())
    );
    assert_eq!(
        param(json!({"prompt": "p", "stream": true, "n": 2})),
        Some("n".into())
    );
    let url = parse(json!({"prompt": "p", "response_format": "url"})).unwrap_err();
    assert_eq!(url.code, "unsupported_parameter");
    assert!(url.message.contains("b64_json"), "{}", url.message);
    let dalle = parse(json!({"prompt": "p", "model": "dall-e-3"})).unwrap_err();
    assert_eq!(dalle.param.as_deref(), Some("model"));
    assert!(dalle.message.contains("gpt-image-1"), "{}", dalle.message);
    assert_eq!(
        ImageRequest::from_json(b"{not json").unwrap_err().code,
        "invalid_json"
    );
}

#[test]
fn form_fields_arrive_as_text() {
    let mut f = Map::new();
    for (k, v) in [
        ("prompt", "p"),
        ("n", "3"),
        ("stream", "false"),
        ("input_fidelity", "high"),
    ] {
        f.insert(k.into(), json!(v));
    }
    let r = ImageRequest::from_fields(&f, Kind::Edit).unwrap();
    assert_eq!(r.n, 3);
    assert_eq!(r.tool["input_fidelity"], "high");
    let g = ImageRequest::from_fields(&f, Kind::Generation).unwrap();
    assert!(g.tool.get("input_fidelity").is_none(), "an edit option");
}

#[test]
fn images_are_told_by_their_bytes() {
    assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
    assert_eq!(sniff(b"\xff\xd8\xff\xe0...."), Some("image/jpeg"));
    assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Some("image/webp"));
    assert_eq!(sniff(b"GIF89a"), None);
    assert_eq!(sniff(b"hello"), None);
}

fn image_events() -> Vec<String> {
    [
        json!({"type": "response.created", "response": {"id": "r"}}),
        json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "image_generation_call", "id": "ig_1", "status": "in_progress"}}),
        json!({"type": "response.image_generation_call.partial_image", "item_id": "ig_1", "output_index": 0, "partial_image_index": 0, "partial_image_b64": "UEFSVA=="}),
        json!({"type": "response.output_item.done", "output_index": 0, "item": {"type": "image_generation_call", "id": "ig_1", "status": "completed", "result": "RklOQUw=", "revised_prompt": "a red fox", "size": "1024x1024"}}),
        json!({"type": "response.completed", "response": {"id": "r", "model": "gpt-5.4", "output": [],
            "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15},
            "tool_usage": {"image_gen": {"input_tokens": 7, "input_tokens_details": {"image_tokens": 0, "text_tokens": 7}, "output_tokens": 272, "total_tokens": 279}}}}),
    ]
    .iter()
    .map(Value::to_string)
    .collect()
}

#[test]
fn a_stream_becomes_partial_then_completed_events_with_usage() {
    let r = parse(json!({"prompt": "p", "stream": true, "partial_images": 2, "quality": "low"}))
        .unwrap();
    assert_eq!(r.tool["partial_images"], 2);
    let mut s = ImageStream::new(&r, Kind::Edit, 123);
    let mut out = BytesMut::new();
    let mut steps = Vec::new();
    for e in image_events() {
        steps.push(feed(&mut s, &e, &mut out));
    }
    assert!(matches!(steps.last(), Some(Step::Done)));
    let text = String::from_utf8(out.to_vec()).unwrap();
    let frames: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(frames.len(), 2, "{text}");
    assert_eq!(frames[0]["type"], "image_edit.partial_image");
    assert_eq!(frames[0]["b64_json"], "UEFSVA==");
    assert_eq!(frames[0]["quality"], "low");
    assert_eq!(frames[1]["type"], "image_edit.completed");
    assert_eq!(frames[1]["b64_json"], "RklOQUw=");
    assert_eq!(frames[1]["usage"]["output_tokens"], 272);
    assert_eq!(frames[1]["created_at"], 123);
    let (model, usage) = s.outcome();
    assert_eq!(model, Some("gpt-5.4"));
    assert_eq!(
        usage.unwrap().total(),
        15 + 279,
        "model and image tokens both count"
    );
}

#[test]
fn a_stream_without_an_image_fails_with_an_error_event() {
    let r = parse(json!({"prompt": "p", "stream": true})).unwrap();
    let mut s = ImageStream::new(&r, Kind::Generation, 1);
    let mut out = BytesMut::new();
    let done =
        json!({"type": "response.completed", "response": {"id": "r", "output": []}}).to_string();
    assert!(matches!(feed(&mut s, &done, &mut out), Step::Failed(_)));
    let text = String::from_utf8(out.to_vec()).unwrap();
    assert!(text.starts_with("event: error\n"), "{text}");
    assert!(text.contains("\"error\":{"), "{text}");
}
