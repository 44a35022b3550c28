//! The Anthropic rendering of an `ApiError`, for the Messages routes:
//! `{"type":"error","error":{"type","message"},"request_id"}` with the same
//! status and headers as the OpenAI rendering. The `error.type` follows the
//! status (`translate::anthropic::error_type`): 400
//! `invalid_request_error`, 401 `authentication_error`, 403
//! `permission_error`, 404 `not_found_error`, 413 `request_too_large`, 429
//! `rate_limit_error` (with `retry-after`), 503 `overloaded_error` (the
//! gateway at its limits, or no account left in the pool), other 5xx
//! `api_error`.

use bytes::Bytes;
use http::Response;
use serde_json::json;

use super::ApiError;
use crate::server::body::{self, Body};
use crate::translate::anthropic::error_type;

impl ApiError {
    /// The Anthropic `error.type` for this error.
    pub(crate) fn anthropic_type(&self) -> &'static str {
        error_type(self.status.as_u16())
    }

    /// The response in Anthropic's envelope; the gateway's own code travels
    /// as an extra `error.code` (clients read `type` and `message`).
    pub(crate) fn into_anthropic_response(self, request_id: Option<&str>) -> Response<Body> {
        let body = json!({
            "type": "error",
            "error": {
                "type": self.anthropic_type(),
                "message": self.message,
                "code": self.code.as_str(),
            },
            "request_id": request_id,
        });
        let (status, headers) = {
            // The same status and headers as the OpenAI form.
            let resp = self.into_response();
            let (parts, _) = resp.into_parts();
            (parts.status, parts.headers)
        };
        let mut resp = Response::new(body::full(Bytes::from(body.to_string())));
        *resp.status_mut() = status;
        *resp.headers_mut() = headers;
        resp
    }
}
