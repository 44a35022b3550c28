//! `/v1/images/generations` and `/v1/images/edits` against the mock: the
//! forced `image_generation` tool and its options upstream, `n` calls,
//! failover over plans without images, key limits, bad input, streams.

use base64::Engine;
use serde_json::{json, Value};

use crate::support::mock::images::{IMAGE_INPUT_TOKENS, IMAGE_OUTPUT_TOKENS, PNG_B64};
use crate::support::*;

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn png() -> Vec<u8> {
    b64(PNG_B64)
}

async fn generate(gw: &Gateway, body: Value) -> (u16, reqwest::header::HeaderMap, Value) {
    let (status, h, text) = gw
        .post_with(
            "/v1/images/generations",
            &body,
            &[("authorization", "Bearer any")],
        )
        .await;
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, h, v)
}

/// One form part: name, file name (a file part), bytes.
type Part<'a> = (&'a str, Option<&'a str>, &'a [u8]);

/// A multipart body of these parts, and its content type.
fn form(parts: &[Part]) -> (String, Vec<u8>) {
    let boundary = "codexpoolboundary7MA4YWxk";
    let mut body = Vec::new();
    for (name, file, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: image/png\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn edit(
    gw: &Gateway,
    ct: &str,
    body: Vec<u8>,
    auth: bool,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = gw
        .client()
        .post(gw.url("/v1/images/edits"))
        .header("content-type", ct)
        .body(body);
    if auth {
        req = req.header("authorization", "Bearer any");
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let h = resp.headers().clone();
    let text = resp.text().await.unwrap();
    (
        status,
        h,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn a_generation_forces_the_tool_with_its_options_and_answers_a_png() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
    let (status, h, v) = generate(
        &gw,
        json!({"model": "gpt-image-1", "prompt": "a red fox",
        "size": "1536x1024", "quality": "high", "background": "opaque", "output_format": "png",
        "moderation": "low", "output_compression": 90, "user": "u-1"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert!(b64(data[0]["b64_json"].as_str().unwrap()).starts_with(PNG_MAGIC));
    assert_eq!(
        data[0]["revised_prompt"],
        "a red fox (revised; 0 input images)"
    );
    assert_eq!(v["model"], "gpt-image-1", "the name the client asked for");
    assert_eq!(
        (v["size"].as_str(), v["quality"].as_str()),
        (Some("1536x1024"), Some("high"))
    );
    assert_eq!(v["output_format"], "png");
    assert_eq!(v["usage"]["output_tokens"], IMAGE_OUTPUT_TOKENS);
    assert_eq!(h["openai-model"], "gpt-5.4", "the model upstream used");
    assert_eq!(h["x-codex-pool-account"], "a");
    let seen = mock.responses();
    assert_eq!(seen.len(), 1);
    let b = &seen[0].body;
    assert_eq!(b["model"], "gpt-5.4", "the catalog's default model");
    assert_eq!(b["tool_choice"], json!({"type": "image_generation"}));
    let tool = &b["tools"][0];
    assert_eq!(tool["type"], "image_generation");
    for (k, want) in [
        ("size", json!("1536x1024")),
        ("quality", json!("high")),
        ("background", json!("opaque")),
        ("moderation", json!("low")),
        ("output_compression", json!(90)),
    ] {
        assert_eq!(tool[k], want, "{k}");
    }
    assert!(seen[0]
        .header("authorization")
        .unwrap()
        .starts_with("Bearer "));
    assert_eq!(seen[0].account(), "a");
    gw.stop().await;
}

#[tokio::test]
async fn n_images_are_n_calls_answered_together_with_their_tokens_counted() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .account("a")
        .account("b")
        .toml("[pool]\nstrategy = \"round_robin\"\n")
        .start()
        .await;
    let (status, _, v) = generate(&gw, json!({"prompt": "three cats", "n": 3})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"].as_array().unwrap().len(), 3);
    assert_eq!(
        v["usage"]["total_tokens"],
        3 * (IMAGE_INPUT_TOKENS + IMAGE_OUTPUT_TOKENS)
    );
    let seen = mock.responses();
    assert_eq!(seen.len(), 3);
    let sessions: std::collections::HashSet<_> = seen
        .iter()
        .map(|s| s.header("session-id").unwrap_or("").to_string())
        .collect();
    assert_eq!(sessions.len(), 3, "each image is a conversation of its own");
    let scrape = gw.scrape().await;
    assert!(scrape.contains(r#"route="images""#), "{scrape}");
    let affinity = metric(&scrape, "codex_pool_affinity_total", &[("outcome", "off")]);
    assert_eq!(affinity, Some(3.0), "{scrape}");
    gw.stop().await;
}

#[tokio::test]
async fn one_failed_image_fails_the_request_and_says_which() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
    mock.script(
        "a",
        Script::Events(crate::support::mock::images::answer(&json!({}), "gpt-5.4")),
    );
    mock.script(
        "a",
        Script::Status(400, json!({"detail": "bad prompt"}).to_string(), vec![]),
    );
    let (status, _, v) = generate(&gw, json!({"prompt": "two", "n": 2})).await;
    assert_eq!(status, 400, "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.starts_with("image 2 of 2 failed, so none is returned"),
        "{msg}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_plan_without_images_fails_over_without_cooling_and_all_such_say_so() {
    let mock = Mock::start().await;
    mock.refuse_images("free");
    let gw = Gateway::builder(&mock)
        .account("free")
        .account("plus")
        .start()
        .await;
    for _ in 0..2 {
        let (status, h, v) = generate(&gw, json!({"prompt": "a boat"})).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(h["x-codex-pool-account"], "plus");
    }
    assert_eq!(
        mock.accounts_hit(),
        ["free", "plus", "free", "plus"],
        "free is not cooled"
    );
    // Text still goes to the first account.
    let (status, h, _) = gw
        .post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
        .await;
    assert_eq!(
        (status, h["x-codex-pool-account"].to_str().unwrap()),
        (200, "free")
    );

    let mock2 = Mock::start().await;
    mock2.refuse_images("f1");
    mock2.refuse_images("f2");
    let gw2 = Gateway::builder(&mock2)
        .account("f1")
        .account("f2")
        .start()
        .await;
    let (status, _, v) = generate(&gw2, json!({"prompt": "a boat"})).await;
    assert_eq!(status, 403, "{v}");
    assert_eq!(v["error"]["code"], "tool_not_in_plan");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("no account in the pool can make images") && msg.contains("f1, f2"),
        "{msg}"
    );
    gw.stop().await;
    gw2.stop().await;
}

#[tokio::test]
async fn a_usage_limit_cools_the_account_and_the_next_one_serves() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .account("a")
        .account("b")
        .start()
        .await;
    let reset = now() + 3600;
    let limited =
        json!({"error": {"type": "usage_limit_reached", "message": "limit", "resets_at": reset}});
    mock.script("a", Script::Status(429, limited.to_string(), vec![]));
    let (status, h, _) = generate(&gw, json!({"prompt": "x"})).await;
    assert_eq!(
        (status, h["x-codex-pool-account"].to_str().unwrap()),
        (200, "b")
    );
    let (status, h, _) = generate(&gw, json!({"prompt": "x"})).await;
    assert_eq!(
        (status, h["x-codex-pool-account"].to_str().unwrap()),
        (200, "b")
    );
    assert_eq!(
        mock.accounts_hit(),
        ["a", "b", "b"],
        "a cools until its reset"
    );
    gw.stop().await;
}

#[tokio::test]
async fn bad_generations_are_400s_and_nothing_goes_upstream() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
    let cases = [
        (json!({"size": "1024x1024"}), "prompt"),
        (json!({"prompt": "p", "size": "777x777"}), "size"),
        (json!({"prompt": "p", "n": 0}), "n"),
        (json!({"prompt": "p", "n": 11}), "n"),
        (
            json!({"prompt": "p", "response_format": "url"}),
            "response_format",
        ),
        (json!({"prompt": "p", "model": "dall-e-3"}), "model"),
        (json!({"prompt": "p", "quality": "hd"}), "quality"),
    ];
    for (body, param) in cases {
        let (status, _, v) = generate(&gw, body.clone()).await;
        assert_eq!(status, 400, "{body}: {v}");
        assert_eq!(v["error"]["param"], param, "{body}: {v}");
        assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
    }
    assert!(mock.responses().is_empty());
    gw.stop().await;
}

#[tokio::test]
async fn key_limits_hold_model_list_rate_for_each_image_and_image_tokens_in_budgets() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .account("a")
        .key("art", |k| {
            k.models(&["gpt-image-1"]).rpm(3).tokens_per_hour(1000)
        })
        .key("text", |k| k.models(&["gpt-5.4"]))
        .start()
        .await;
    let post = |key: &'static str, body: Value| {
        let gw = &gw;
        async move {
            let (s, _, t) = gw
                .post_with(
                    "/v1/images/generations",
                    &body,
                    &[("authorization", &format!("Bearer {key}"))],
                )
                .await;
            (s, serde_json::from_str::<Value>(&t).unwrap())
        }
    };
    let (s, v) = post("sk-text-123456", json!({"prompt": "p"})).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("model_not_allowed")),
        "{v}"
    );
    let (s, v) = post("sk-art-123456", json!({"prompt": "p", "n": 2})).await;
    assert_eq!(s, 200, "{v}");
    // Two images spent two of the three requests a minute.
    let (s, v) = post("sk-art-123456", json!({"prompt": "p", "n": 2})).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (429, Some("rate_limited")),
        "{v}"
    );
    assert_eq!(mock.responses().len(), 2);
    let mock2 = Mock::start().await;
    let gw2 = Gateway::builder(&mock2)
        .account("a")
        .key("art", |k| k.tokens_per_hour(700))
        .start()
        .await;
    let auth = [("authorization", "Bearer sk-art-123456")];
    // 2 × (40 model + 322 image) tokens = 724, past the 700 of the hour.
    let (s, _, _) = gw2
        .post_with(
            "/v1/images/generations",
            &json!({"prompt": "p", "n": 2}),
            &auth,
        )
        .await;
    assert_eq!(s, 200);
    let (s, _, t) = gw2
        .post_with("/v1/images/generations", &json!({"prompt": "p"}), &auth)
        .await;
    assert_eq!(s, 429, "image tokens count against the budget: {t}");
    assert!(t.contains("budget_exceeded"), "{t}");
    gw.stop().await;
    gw2.stop().await;
}

#[tokio::test]
async fn an_edit_sends_its_images_and_mask_as_data_urls() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
    let image = png();
    let mask = b64(crate::support::mock::images::PARTIAL_PNG_B64);
    let (ct, body) = form(&[
        ("image[]", Some("a.png"), &image),
        ("image[]", Some("b.png"), &image),
        ("mask", Some("m.png"), &mask),
        ("prompt", None, b"add a hat"),
        ("size", None, b"1024x1024"),
        ("input_fidelity", None, b"high"),
        ("model", None, b"gpt-image-1"),
    ]);
    let (status, h, v) = edit(&gw, &ct, body, true).await;
    assert_eq!(status, 200, "{v}");
    assert!(b64(v["data"][0]["b64_json"].as_str().unwrap()).starts_with(PNG_MAGIC));
    assert_eq!(
        v["data"][0]["revised_prompt"],
        "add a hat (revised; 2 input images)"
    );
    assert_eq!(h["x-codex-pool-account"], "a");
    let seen = mock.responses();
    let b = &seen[0].body;
    let parts = b["input"][0]["content"].as_array().unwrap();
    let url = parts[1]["image_url"].as_str().unwrap();
    let sent = url.strip_prefix("data:image/png;base64,").unwrap();
    assert_eq!(b64(sent), image, "the image's bytes reach upstream");
    let m = b["tools"][0]["input_image_mask"]["image_url"]
        .as_str()
        .unwrap();
    assert_eq!(b64(m.strip_prefix("data:image/png;base64,").unwrap()), mask);
    assert_eq!(b["tools"][0]["input_fidelity"], "high");
    let scrape = gw.scrape().await;
    assert!(scrape.contains(r#"route="image_edits""#), "{scrape}");
    gw.stop().await;
}

#[tokio::test]
async fn bad_edits_are_400s_naming_the_field_and_nothing_goes_upstream() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
    let image = png();
    let big_mask = [PNG_MAGIC, &vec![0u8; 5 << 20]].concat();
    let cases: Vec<(Vec<Part>, &str)> = vec![
        (
            vec![
                ("image", Some("a.txt"), b"hello, not an image"),
                ("prompt", None, b"p"),
            ],
            "image",
        ),
        (
            vec![
                ("image", Some("a.png"), &image),
                ("mask", Some("m.jpg"), b"\xff\xd8\xff\xe0jpeg"),
                ("prompt", None, b"p"),
            ],
            "mask",
        ),
        (
            vec![
                ("image", Some("a.png"), &image),
                ("mask", Some("m.png"), &big_mask),
                ("prompt", None, b"p"),
            ],
            "mask",
        ),
        (vec![("prompt", None, b"p")], "image"),
        (vec![("image", Some("a.png"), &image)], "prompt"),
        (
            vec![
                ("image", Some("a.png"), &image),
                ("prompt", None, b"p"),
                ("n", None, b"0"),
            ],
            "n",
        ),
    ];
    for (parts, param) in cases {
        let (ct, body) = form(&parts);
        let (status, _, v) = edit(&gw, &ct, body, true).await;
        assert_eq!(status, 400, "{param}: {v}");
        assert_eq!(v["error"]["param"], param, "{v}");
    }
    let (ct, mut body) = form(&[("image", Some("a.png"), &image), ("prompt", None, b"p")]);
    body.truncate(body.len() - 30);
    let (status, _, v) = edit(&gw, &ct, body, true).await;
    assert_eq!(status, 400, "a broken body: {v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("malformed"),
        "{v}"
    );
    let (status, _, v) = edit(&gw, "multipart/form-data", b"x".to_vec(), true).await;
    assert_eq!(status, 400, "no boundary: {v}");
    let (ct, body) = form(&[("image", Some("a.png"), &image), ("prompt", None, b"p")]);
    let (status, _, v) = edit(&gw, &ct, body, false).await;
    assert_eq!(
        status, 415,
        "a form without a key header could be a web page's: {v}"
    );
    assert!(mock.responses().is_empty());
    gw.stop().await;
}

#[tokio::test]
async fn a_stream_sends_partial_images_then_the_completed_one() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
    let (status, h, text) = gw
        .post_with(
            "/v1/images/generations",
            &json!({"prompt": "p", "stream": true, "partial_images": 2}),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(h["content-type"], "text/event-stream");
    assert_eq!(h["openai-model"], "gpt-5.4");
    let events = sse_data(&text);
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "image_generation.partial_image",
            "image_generation.partial_image",
            "image_generation.completed"
        ],
        "{text}"
    );
    assert_eq!(events[1]["partial_image_index"], 1);
    assert!(b64(events[2]["b64_json"].as_str().unwrap()).starts_with(PNG_MAGIC));
    assert_eq!(events[2]["usage"]["output_tokens"], IMAGE_OUTPUT_TOKENS);
    assert_eq!(mock.responses()[0].body["tools"][0]["partial_images"], 2);
    gw.stop().await;
}

#[tokio::test]
async fn a_stream_fails_over_a_plan_without_images_and_shows_in_the_activity_log() {
    let mock = Mock::start().await;
    mock.refuse_images("free");
    let gw = Gateway::builder(&mock)
        .account("free")
        .account("plus")
        .admin(ADMIN)
        .start()
        .await;
    let (status, _, text) = gw.post("/v1/images/edits", &json!({})).await;
    assert_eq!(status, 415, "an edit is a form: {text}");
    let (status, h2, text) = gw
        .post_with(
            "/v1/images/generations",
            &json!({"prompt": "p", "stream": true}),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(h2["x-codex-pool-account"], "plus");
    let kinds: Vec<Value> = sse_data(&text).iter().map(|e| e["type"].clone()).collect();
    assert_eq!(
        kinds,
        [json!("image_generation.completed")],
        "no partial images asked: {text}"
    );
    assert_eq!(mock.accounts_hit(), ["free", "plus"]);
    let recent = gw.activity().await;
    let d = &recent[0];
    assert_eq!(
        (d["route"].as_str(), d["served_by"].as_str()),
        (Some("images"), Some("plus"))
    );
    let outcomes: Vec<&str> = d["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["outcome"].as_str())
        .collect();
    assert_eq!(outcomes, ["not_in_plan", "ok"], "{d}");
    gw.stop().await;
}

#[tokio::test]
async fn a_stream_that_fails_after_its_first_event_ends_with_an_error_event() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
    let mut events = crate::support::mock::images::answer(&json!({}), "gpt-5.4");
    events.truncate(2);
    events.push(json!({"type": "response.failed", "response": {"error": {"code": "content_policy_violation", "message": "refused by moderation"}}}));
    mock.script("a", Script::Events(events));
    let (status, _, text) = gw
        .post_with(
            "/v1/images/generations",
            &json!({"prompt": "p", "stream": true}),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let frames = sse_data(&text);
    assert_eq!(frames.len(), 1, "{text}");
    assert_eq!(frames[0]["type"], "error");
    assert_eq!(frames[0]["error"]["code"], "content_policy_violation");
    assert_eq!(frames[0]["error"]["type"], "invalid_request_error");
    gw.stop().await;
}
