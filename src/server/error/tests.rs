//! Unit tests of `server/error`.

use super::*;

#[test]
fn usage_limit_exhaustion_names_the_reset_and_sets_retry_after() {
    let at = SystemTime::now() + Duration::from_secs(600);
    let e = ApiError::from(&Exhausted::UsageLimited { earliest_reset: at });
    assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(e.code, Code::UsageLimitReached);
    assert!(e
        .message
        .contains(&humantime::format_rfc3339_seconds(at).to_string()));
    let resp = e.into_response();
    let ra: u64 = resp.headers()[header::RETRY_AFTER]
        .to_str()
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!((599..=601).contains(&ra), "{ra}");
}

#[test]
fn invalid_keeps_param_and_code() {
    let e = ApiError::from(Invalid::unsupported("n", "'n'"));
    assert_eq!(e.status, StatusCode::BAD_REQUEST);
    assert_eq!(e.code, Code::UnsupportedParameter);
    assert_eq!(e.param.as_deref(), Some("n"));
}

#[test]
fn every_gateway_code_has_a_status_and_round_trips() {
    for c in Code::ALL {
        assert!(c.status().is_some(), "{c}");
        assert_eq!(&Code::parse(c.as_str()), c);
    }
    let upstream = Code::parse("context_length_exceeded");
    assert_eq!(upstream, Code::Upstream("context_length_exceeded".into()));
    assert_eq!(upstream.label(), "context_length_exceeded");
    assert_eq!(Code::parse("made_up_by_upstream").label(), "other");
}

#[test]
fn a_refused_request_names_the_account_and_keeps_upstreams_status() {
    let failure = Failure::BadRequest {
        status: 422,
        code: Some("invalid_prompt".into()),
        message: "no".into(),
    };
    let e = ApiError::from(&ServeError::Refused {
        account: "a".into(),
        failure,
    });
    assert_eq!(e.status.as_u16(), 422);
    assert_eq!(e.code.as_str(), "invalid_prompt");
    assert_eq!(e.account.as_deref(), Some("a"));
}

#[test]
fn when_no_plan_tried_has_the_tool_the_error_says_so() {
    let not_in_plan = || Failure::ToolNotInPlan {
        tool: "image_generation",
        message: "not found".into(),
    };
    let exhausted = Exhausted::Unavailable {
        reasons: Vec::new(),
    };
    let all = ServeError::AllFailed {
        exhausted: exhausted.clone(),
        failures: vec![("f1".into(), not_in_plan()), ("f2".into(), not_in_plan())],
    };
    let e = ApiError::from(&all);
    assert_eq!(
        (e.status.as_u16(), e.code.as_str()),
        (403, "tool_not_in_plan")
    );
    assert!(
        e.message.contains("no account in the pool can make images")
            && e.message.contains("f1, f2"),
        "{}",
        e.message
    );
    let mixed = ServeError::AllFailed {
        exhausted,
        failures: vec![
            ("f1".into(), not_in_plan()),
            ("p".into(), Failure::StreamTruncated),
        ],
    };
    assert_eq!(ApiError::from(&mixed).code.as_str(), "pool_exhausted");
}
