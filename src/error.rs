//! The HTTP edge's error: every failure a client sees, as an OpenAI envelope.
//!
//! `{"error":{"message","type","param","code"}}` with a specific `code`. Each
//! boundary's error (`translate::Invalid`, `upstream::Failure`, `pool::Exhausted`)
//! is mapped here, in one place, with exhaustive matches.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use serde_json::json;

use crate::pool::Exhausted;
use crate::server::body::{self, Body};
use crate::translate::Invalid;
use crate::upstream::Failure;

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    /// OpenAI's `type`: `invalid_request_error`, `authentication_error`, …
    pub kind: &'static str,
    pub code: String,
    pub message: String,
    pub param: Option<Box<str>>,
    pub retry_after: Option<Duration>,
    /// The account whose upstream answer this error relays, if one did.
    pub account: Option<Box<str>>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            kind: type_for(status),
            code: code.to_string(),
            message: message.into(),
            param: None,
            retry_after: None,
            account: None,
        }
    }

    pub fn with_param(mut self, param: impl Into<String>) -> ApiError {
        self.param = Some(param.into().into_boxed_str());
        self
    }

    pub fn with_retry_after(mut self, after: Duration) -> ApiError {
        self.retry_after = Some(after);
        self
    }

    pub fn not_found(path: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no route for {path}"),
        )
    }

    pub fn method_not_allowed(method: &http::Method, path: &str) -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{method} is not allowed on {path}"),
        )
    }

    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            format!("the request body is larger than the limit of {limit} bytes (server.max_body_bytes)"),
        )
    }

    pub fn unauthorized(message: &str) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "invalid_api_key", message)
    }

    pub fn overloaded(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_busy",
            format!("the gateway is at its limit of {what}; retry shortly"),
        )
        .with_retry_after(Duration::from_secs(1))
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", message)
    }

    /// The response, with `Retry-After` when known.
    pub fn into_response(self) -> Response<Body> {
        let body = json!({"error": {
            "message": self.message,
            "type": self.kind,
            "param": self.param,
            "code": self.code,
        }});
        let mut resp = Response::new(body::full(Bytes::from(body.to_string())));
        *resp.status_mut() = self.status;
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(v) = self
            .account
            .as_deref()
            .and_then(|a| HeaderValue::from_str(a).ok())
        {
            resp.headers_mut().insert("x-codex-pool-account", v);
        }
        if let Some(after) = self.retry_after {
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        resp
    }
}

fn type_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "server_error",
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind: "invalid_request_error",
            code: e.code.to_string(),
            message: e.message,
            param: e.param.map(String::into_boxed_str),
            retry_after: None,
            account: None,
        }
    }
}

impl From<&Failure> for ApiError {
    fn from(f: &Failure) -> ApiError {
        let mut e = ApiError::new(f.client_status(), &f.client_code(), f.to_string());
        if let Some(after) = f.retry_after() {
            e = e.with_retry_after(after);
        }
        e
    }
}

impl From<&Exhausted> for ApiError {
    fn from(x: &Exhausted) -> ApiError {
        match x {
            Exhausted::UsageLimited { earliest_reset } => {
                let wait = earliest_reset
                    .duration_since(SystemTime::now())
                    .unwrap_or(Duration::ZERO);
                ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "usage_limit_reached",
                    format!(
                        "every account has reached its usage limit; the earliest resets at {} (in {} seconds)",
                        humantime::format_rfc3339_seconds(*earliest_reset),
                        wait.as_secs()
                    ),
                )
                .with_retry_after(wait.max(Duration::from_secs(1)))
            }
            Exhausted::Unavailable { reasons } if reasons.is_empty() => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "pool_exhausted",
                "no account is configured for this request",
            ),
            Exhausted::Unavailable { reasons } => {
                let list: Vec<String> = reasons.iter().map(|(a, r)| format!("{a}: {r}")).collect();
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "pool_exhausted",
                    format!("no account can serve this request: {}", list.join("; ")),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_limit_exhaustion_names_the_reset_and_sets_retry_after() {
        let at = SystemTime::now() + Duration::from_secs(600);
        let e = ApiError::from(&Exhausted::UsageLimited { earliest_reset: at });
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(e.code, "usage_limit_reached");
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
        assert_eq!(e.code, "unsupported_parameter");
        assert_eq!(e.param.as_deref(), Some("n"));
    }
}
