//! Anthropic's error shapes: the `error.type` for an HTTP status (the HTTP
//! edge's Anthropic envelope, `server/error/anthropic.rs`, takes it from
//! here) and the `error` event of a stream that failed after it began.

use bytes::{BufMut, BytesMut};
use serde_json::json;

use crate::upstream::Failure;

/// The `error.type` Anthropic uses for an HTTP status.
pub fn error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        503 | 529 => "overloaded_error",
        _ => "api_error",
    }
}

/// An Anthropic `error` event: the stream failed after it began.
pub fn error_frame(failure: &Failure, out: &mut BytesMut) {
    let body = json!({"type": "error", "error": {
        "type": error_type(failure.client_status().as_u16()),
        "message": failure.to_string(),
    }});
    out.put_slice(b"event: error\ndata: ");
    let _ = serde_json::to_writer((&mut *out).writer(), &body);
    out.put_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_follow_the_status() {
        assert_eq!(error_type(400), "invalid_request_error");
        assert_eq!(error_type(401), "authentication_error");
        assert_eq!(error_type(403), "permission_error");
        assert_eq!(error_type(404), "not_found_error");
        assert_eq!(error_type(413), "request_too_large");
        assert_eq!(error_type(415), "invalid_request_error");
        assert_eq!(error_type(429), "rate_limit_error");
        assert_eq!(error_type(500), "api_error");
        assert_eq!(error_type(502), "api_error");
        assert_eq!(error_type(503), "overloaded_error");
    }
}
