use super::*;
use http::{HeaderMap, HeaderValue};

fn classify(status: u16, body: &str) -> Failure {
    Failure::from_response(
        StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT),
        &HeaderMap::new(),
        body.as_bytes(),
    )
}

#[test]
fn usage_limit_with_resets_at() {
    let f = classify(
        429,
        r#"{"error":{"type":"usage_limit_reached","message":"The usage limit has been reached","plan_type":"plus","resets_at":1900000000}}"#,
    );
    assert_eq!(
        f,
        Failure::UsageLimited {
            resets_at: Some(crate::clock::from_unix(1_900_000_000)),
            message: "The usage limit has been reached".into()
        }
    );
    assert_eq!(f.kind(), "usage_limited");
    assert!(f.retryable());
    assert_eq!(f.client_code(), "usage_limit_reached");
    assert!(f.to_string().contains("2030-03-17T17:46:40Z"), "{f}");
}

#[test]
fn usage_limit_with_older_resets_in_seconds() {
    let f = classify(
        429,
        r#"{"error":{"type":"usage_limit_reached","resets_in_seconds":120}}"#,
    );
    let Failure::UsageLimited {
        resets_at: Some(at),
        ..
    } = f
    else {
        panic!("wrong class: {f:?}");
    };
    let left = at
        .duration_since(SystemTime::now())
        .unwrap_or_default()
        .as_secs();
    assert!((118..=120).contains(&left), "{left}");
}

#[test]
fn other_classes() {
    assert!(matches!(
        classify(429, r#"{"error":{"type":"usage_not_included"}}"#),
        Failure::UsageNotIncluded { .. }
    ));
    assert_eq!(
        classify(429, r#"{"error":{"message":"slow down"}}"#).kind(),
        "rate_limited"
    );
    assert_eq!(
        classify(401, r#"{"error":{"message":"expired"}}"#).kind(),
        "auth_failed"
    );
    assert_eq!(
        classify(
            403,
            "<html><title>Attention Required! | Cloudflare</title></html>"
        )
        .kind(),
        "cloudflare_blocked"
    );
    for s in [500, 502, 503, 504] {
        assert_eq!(classify(s, "oops").kind(), "server_error");
    }
    let bad = classify(400, r#"{"detail":"Unsupported parameter: temperature"}"#);
    assert_eq!(bad.kind(), "bad_request");
    assert!(!bad.retryable());
    assert_eq!(bad.client_status(), StatusCode::BAD_REQUEST);
    assert!(bad
        .to_string()
        .contains("Unsupported parameter: temperature"));
}

#[test]
fn a_far_reset_gives_a_retry_after_no_longer_than_the_longest_cooldown() {
    let f = Failure::UsageLimited {
        resets_at: Some(SystemTime::now() + LONGEST_COOLDOWN * 100),
        message: String::new(),
    };
    assert_eq!(f.retry_after(), Some(LONGEST_COOLDOWN));
}

#[test]
fn cloudflare_by_server_header() {
    let mut h = HeaderMap::new();
    h.insert("server", HeaderValue::from_static("cloudflare"));
    let f = Failure::from_response(StatusCode::FORBIDDEN, &h, b"<!DOCTYPE html><p>blocked</p>");
    assert_eq!(f, Failure::CloudflareBlocked);
}

#[test]
fn throttle_reads_retry_hints() {
    let mut h = HeaderMap::new();
    h.insert("retry-after", HeaderValue::from_static("7"));
    let f = Failure::from_response(StatusCode::TOO_MANY_REQUESTS, &h, b"{}");
    assert_eq!(f.retry_after(), Some(Duration::from_secs(7)));
    let f = Failure::from_stream_error(
        Some("rate_limit_exceeded".into()),
        Some("Rate limit reached. Please try again in 12s.".into()),
    );
    assert_eq!(f.retry_after(), Some(Duration::from_secs(12)));
    assert_eq!(
        try_again_in("try again in 300ms"),
        Some(Duration::from_millis(300))
    );
}

#[test]
fn stream_failures_split_by_fault() {
    let overloaded = Failure::from_stream_error(Some("server_is_overloaded".into()), None);
    assert!(overloaded.retryable());
    assert_eq!(overloaded.client_status(), StatusCode::SERVICE_UNAVAILABLE);
    let too_long = Failure::from_stream_error(
        Some("context_length_exceeded".into()),
        Some("too long".into()),
    );
    assert!(!too_long.retryable());
    assert_eq!(too_long.setback(), None);
    assert_eq!(too_long.client_status(), StatusCode::BAD_REQUEST);
    assert_eq!(too_long.client_code(), "context_length_exceeded");
    assert!(Failure::StreamTruncated.retryable());
}

#[test]
fn only_the_instructions_400_refuses_instructions() {
    let refused = classify(400, r#"{"detail":"Instructions are not valid"}"#);
    assert!(refused.refuses_instructions(), "{refused:?}");
    assert!(!classify(400, r#"{"detail":"Unsupported parameter"}"#).refuses_instructions());
    assert!(!classify(500, "Instructions are not valid").refuses_instructions());
}

#[test]
fn a_plan_without_images_fails_over_without_a_setback() {
    let f = classify(
        400,
        r#"{"error":{"message":"Tool choice 'image_generation' not found in 'tools' parameter.","type":"invalid_request_error","param":"tool_choice","code":null}}"#,
    );
    assert!(
        matches!(
            f,
            Failure::ToolNotInPlan {
                tool: "image_generation",
                ..
            }
        ),
        "{f:?}"
    );
    assert!(f.retryable(), "another account's plan may have it");
    assert!(f.setback().is_none(), "the account serves everything else");
    assert!(
        f.blames_account(),
        "not an upstream fault: no retry budget spent"
    );
    assert_eq!(
        (f.kind(), f.client_status()),
        ("not_in_plan", StatusCode::FORBIDDEN)
    );
    // Any other 400 stays the request's own fault.
    let other = classify(
        400,
        r#"{"error":{"message":"Tool choice 'web_search' is invalid"}}"#,
    );
    assert!(!other.retryable());
}
