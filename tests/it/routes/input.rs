//! Bad input gets a 4xx envelope in the client's API style, naming the
//! field, and never reaches upstream.

use serde_json::Value;

use crate::support::*;

async fn raw(
    gw: &Gateway,
    method: reqwest::Method,
    path: &str,
    ct: Option<&str>,
    body: Vec<u8>,
) -> (u16, Value) {
    let mut req = gw.client().request(method, gw.url(path)).body(body);
    if let Some(ct) = ct {
        req = req.header("content-type", ct);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not an envelope: {text}")),
    )
}

/// Method, path, content type, body; expected status, code and param.
type Case = (
    reqwest::Method,
    &'static str,
    Option<&'static str>,
    Vec<u8>,
    u16,
    &'static str,
    Option<&'static str>,
);

#[tokio::test]
async fn bad_input_gets_a_4xx_envelope_naming_the_field_and_no_upstream_call() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock)
        .account("a")
        .toml("[server]\nmax_body_bytes = 4096")
        .start()
        .await;
    let post = reqwest::Method::POST;
    let json_ct = Some("application/json");
    let cases: Vec<Case> = vec![
        (
            post.clone(),
            "/v1/chat/completions",
            json_ct,
            b"{not json".to_vec(),
            400,
            "invalid_json",
            None,
        ),
        (
            post.clone(),
            "/v1/chat/completions",
            json_ct,
            br#"{"model":"m"}"#.to_vec(),
            400,
            "invalid_request_error",
            None,
        ),
        (
            post.clone(),
            "/v1/chat/completions",
            json_ct,
            br#"{"model":"m","messages":"hi"}"#.to_vec(),
            400,
            "invalid_request_error",
            Some("messages"),
        ),
        (
            post.clone(),
            "/v1/chat/completions",
            json_ct,
            br#"{"model":7,"messages":[]}"#.to_vec(),
            400,
            "invalid_request_error",
            Some("model"),
        ),
        (
            post.clone(),
            "/v1/chat/completions",
            json_ct,
            br#"{"model":"m","messages":[{"role":"wizard","content":"x"}]}"#.to_vec(),
            400,
            "invalid_request_error",
            Some("messages[0].role"),
        ),
        (
            post.clone(),
            "/v1/chat/completions",
            json_ct,
            br#"{"model":"m","messages":[{"role":"user","content":5}]}"#.to_vec(),
            400,
            "invalid_request_error",
            Some("messages[0].content"),
        ),
        (
            post.clone(),
            "/v1/chat/completions",
            json_ct,
            vec![b' '; 5000],
            413,
            "request_too_large",
            None,
        ),
        (
            post.clone(),
            "/v1/chat/completions",
            Some("text/plain"),
            b"hi".to_vec(),
            415,
            "unsupported_media_type",
            None,
        ),
        (
            post.clone(),
            "/v1/responses",
            json_ct,
            br#"{"model":"m","input":"x","previous_response_id":"resp_1"}"#.to_vec(),
            400,
            "previous_response_not_supported",
            Some("previous_response_id"),
        ),
        (
            post.clone(),
            "/v1/responses",
            json_ct,
            br#"[1,2]"#.to_vec(),
            400,
            "invalid_request_error",
            Some("body"),
        ),
        (
            post.clone(),
            "/v1/nothing",
            json_ct,
            b"{}".to_vec(),
            404,
            "not_found",
            None,
        ),
        (
            reqwest::Method::GET,
            "/v1/chat/completions",
            None,
            vec![],
            405,
            "method_not_allowed",
            None,
        ),
        (
            reqwest::Method::DELETE,
            "/v1/models",
            None,
            vec![],
            405,
            "method_not_allowed",
            None,
        ),
    ];
    for (method, path, ct, body, status, code, param) in cases {
        let (s, v) = raw(&gw, method.clone(), path, ct, body).await;
        assert_eq!(s, status, "{method} {path}: {v}");
        assert_eq!(v["error"]["code"], code, "{method} {path}: {v}");
        assert!(v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
        assert!(v["error"]["type"].is_string());
        if let Some(p) = param {
            assert_eq!(v["error"]["param"], p, "{method} {path}: {v}");
        }
    }
    assert!(
        mock.responses().is_empty(),
        "no bad request reached upstream"
    );
    // And the server keeps serving.
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("gpt-5.4", "hi"))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn a_model_name_past_256_bytes_is_refused() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
    let (s, _, text) = gw
        .post("/v1/chat/completions", &chat(&"m".repeat(300), "hi"))
        .await;
    assert_eq!(s, 400, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["error"]["param"], "model");
    assert!(
        text.len() < 1000,
        "the error does not echo the name: {text}"
    );
    assert_eq!(mock.responses().len(), 0);
}
