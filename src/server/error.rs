//! The HTTP edge's error: every failure a client sees, as an OpenAI envelope.
//!
//! `{"error":{"message","type","param","code"}}` with a specific `code`. The
//! gateway's own codes are `Code` variants whose status is decided by one
//! exhaustive match; codes upstream chose travel as `Code::Upstream` with the
//! status upstream's failure maps to. Each boundary's error (`translate::Invalid`,
//! `upstream::Failure`, `proxy::ServeError`, `keys::Refusal`) is mapped here,
//! in one place.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use serde_json::json;

use super::body::{self, Body};
use crate::keys::Refusal;
use crate::pool::Exhausted;
use crate::proxy::ServeError;
use crate::translate::Invalid;
use crate::upstream::Failure;

mod anthropic;

/// Which envelope a route's errors are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Style {
    /// `{"error":{"message","type","param","code"}}`.
    #[default]
    OpenAi,
    /// `{"type":"error","error":{"type","message"}}` (`error/anthropic.rs`).
    Anthropic,
}

/// Codes upstream chooses that keep their name as a metric label; the
/// label of any other upstream code is `other`, so the series stay bounded.
pub const UPSTREAM_LABELS: &[&str] = &[
    "context_length_exceeded",
    "server_is_overloaded",
    "rate_limit_exceeded",
    "invalid_prompt",
    "content_policy_violation",
    "bad_request",
];

/// An error `code` a client can see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    InvalidJson,
    InvalidRequest,
    UnsupportedParameter,
    PreviousResponseNotSupported,
    RequestTooLarge,
    UnsupportedMediaType,
    UnsupportedContentEncoding,
    InvalidContentEncoding,
    BodyReadError,
    RequestTimeout,
    NotFound,
    MethodNotAllowed,
    ModelNotFound,
    AccountNotFound,
    InvalidApiKey,
    ForbiddenHost,
    ForbiddenOrigin,
    ModelNotAllowed,
    RateLimited,
    BudgetExceeded,
    ServerBusy,
    InternalError,
    PoolExhausted,
    UsageLimitReached,
    UsageNotIncluded,
    UpstreamRateLimited,
    AccountAuthFailed,
    CloudflareBlocked,
    UpstreamForbidden,
    UpstreamUnavailable,
    UpstreamTimeout,
    UpstreamStreamFailed,
    UpstreamStreamTruncated,
    /// A code upstream chose (`context_length_exceeded`, …), kept as it said.
    Upstream(Box<str>),
}

impl Code {
    /// Every code the gateway itself can choose.
    pub const ALL: &'static [Code] = &[
        Code::InvalidJson,
        Code::InvalidRequest,
        Code::UnsupportedParameter,
        Code::PreviousResponseNotSupported,
        Code::RequestTooLarge,
        Code::UnsupportedMediaType,
        Code::UnsupportedContentEncoding,
        Code::InvalidContentEncoding,
        Code::BodyReadError,
        Code::RequestTimeout,
        Code::NotFound,
        Code::MethodNotAllowed,
        Code::ModelNotFound,
        Code::AccountNotFound,
        Code::InvalidApiKey,
        Code::ForbiddenHost,
        Code::ForbiddenOrigin,
        Code::ModelNotAllowed,
        Code::RateLimited,
        Code::BudgetExceeded,
        Code::ServerBusy,
        Code::InternalError,
        Code::PoolExhausted,
        Code::UsageLimitReached,
        Code::UsageNotIncluded,
        Code::UpstreamRateLimited,
        Code::AccountAuthFailed,
        Code::CloudflareBlocked,
        Code::UpstreamForbidden,
        Code::UpstreamUnavailable,
        Code::UpstreamTimeout,
        Code::UpstreamStreamFailed,
        Code::UpstreamStreamTruncated,
    ];

    pub fn as_str(&self) -> &str {
        match self {
            Code::Upstream(code) => code,
            known => known.name(),
        }
    }

    /// The `code` metric label: the gateway's codes by name, upstream's when
    /// it is one the label keeps (`UPSTREAM_LABELS`), else `other`.
    pub fn label(&self) -> &'static str {
        match self {
            Code::Upstream(code) => UPSTREAM_LABELS
                .iter()
                .find(|l| **l == &**code)
                .copied()
                .unwrap_or("other"),
            known => known.name(),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Code::InvalidJson => "invalid_json",
            Code::InvalidRequest => "invalid_request_error",
            Code::UnsupportedParameter => "unsupported_parameter",
            Code::PreviousResponseNotSupported => "previous_response_not_supported",
            Code::RequestTooLarge => "request_too_large",
            Code::UnsupportedMediaType => "unsupported_media_type",
            Code::UnsupportedContentEncoding => "unsupported_content_encoding",
            Code::InvalidContentEncoding => "invalid_content_encoding",
            Code::BodyReadError => "body_read_error",
            Code::RequestTimeout => "request_timeout",
            Code::NotFound => "not_found",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::ModelNotFound => "model_not_found",
            Code::AccountNotFound => "account_not_found",
            Code::InvalidApiKey => "invalid_api_key",
            Code::ForbiddenHost => "forbidden_host",
            Code::ForbiddenOrigin => "forbidden_origin",
            Code::ModelNotAllowed => "model_not_allowed",
            Code::RateLimited => "rate_limited",
            Code::BudgetExceeded => "budget_exceeded",
            Code::ServerBusy => "server_busy",
            Code::InternalError => "internal_error",
            Code::PoolExhausted => "pool_exhausted",
            Code::UsageLimitReached => "usage_limit_reached",
            Code::UsageNotIncluded => "usage_not_included",
            Code::UpstreamRateLimited => "upstream_rate_limited",
            Code::AccountAuthFailed => "account_auth_failed",
            Code::CloudflareBlocked => "cloudflare_blocked",
            Code::UpstreamForbidden => "upstream_forbidden",
            Code::UpstreamUnavailable => "upstream_unavailable",
            Code::UpstreamTimeout => "upstream_timeout",
            Code::UpstreamStreamFailed => "upstream_stream_failed",
            Code::UpstreamStreamTruncated => "upstream_stream_truncated",
            Code::Upstream(_) => "other",
        }
    }

    /// The code for a string: one of the gateway's, else upstream's own.
    pub fn parse(code: &str) -> Code {
        Code::ALL
            .iter()
            .find(|c| c.as_str() == code)
            .cloned()
            .unwrap_or_else(|| Code::Upstream(code.into()))
    }

    /// The HTTP status of a gateway code; `None` for upstream's codes, whose
    /// status comes from the failure that carried them.
    pub fn status(&self) -> Option<StatusCode> {
        Some(match self {
            Code::InvalidJson
            | Code::InvalidRequest
            | Code::UnsupportedParameter
            | Code::PreviousResponseNotSupported
            | Code::BodyReadError
            | Code::InvalidContentEncoding => StatusCode::BAD_REQUEST,
            Code::RequestTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Code::UnsupportedMediaType | Code::UnsupportedContentEncoding => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Code::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Code::NotFound | Code::ModelNotFound | Code::AccountNotFound => StatusCode::NOT_FOUND,
            Code::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Code::InvalidApiKey => StatusCode::UNAUTHORIZED,
            Code::ForbiddenHost
            | Code::ForbiddenOrigin
            | Code::ModelNotAllowed
            | Code::UsageNotIncluded => StatusCode::FORBIDDEN,
            Code::RateLimited
            | Code::BudgetExceeded
            | Code::UsageLimitReached
            | Code::UpstreamRateLimited => StatusCode::TOO_MANY_REQUESTS,
            Code::ServerBusy | Code::PoolExhausted => StatusCode::SERVICE_UNAVAILABLE,
            Code::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            Code::AccountAuthFailed
            | Code::CloudflareBlocked
            | Code::UpstreamForbidden
            | Code::UpstreamUnavailable
            | Code::UpstreamStreamFailed
            | Code::UpstreamStreamTruncated => StatusCode::BAD_GATEWAY,
            Code::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Code::Upstream(_) => return None,
        })
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    /// OpenAI's `type`: `invalid_request_error`, `authentication_error`, …
    pub error_type: &'static str,
    pub code: Code,
    pub message: String,
    pub param: Option<Box<str>>,
    pub retry_after: Option<Duration>,
    /// The account whose upstream answer this error relays, if one did.
    pub account: Option<Box<str>>,
}

impl ApiError {
    /// An error with one of the gateway's codes, at that code's status.
    pub fn new(code: Code, message: impl Into<String>) -> ApiError {
        let status = code.status().unwrap_or(StatusCode::BAD_GATEWAY);
        ApiError::with_status(status, code, message)
    }

    /// An error whose status the context decides (upstream's codes, or a
    /// gateway code used where its usual status would mislead).
    pub fn with_status(status: StatusCode, code: Code, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error_type: type_for(status),
            code,
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
        ApiError::new(Code::NotFound, format!("no route for {path}"))
    }

    pub fn method_not_allowed(method: &http::Method, path: &str) -> ApiError {
        ApiError::new(
            Code::MethodNotAllowed,
            format!("{method} is not allowed on {path}"),
        )
    }

    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(
            Code::RequestTooLarge,
            format!("the request body is larger than the limit of {limit} bytes (server.max_body_bytes)"),
        )
    }

    pub fn unauthorized(message: &str) -> ApiError {
        ApiError::new(Code::InvalidApiKey, message)
    }

    pub fn overloaded(what: &str) -> ApiError {
        ApiError::new(
            Code::ServerBusy,
            format!("the gateway is at its limit of {what}; retry shortly"),
        )
        .with_retry_after(Duration::from_secs(1))
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(Code::InternalError, message)
    }

    /// The response in `style`'s envelope.
    pub fn into_response_as(self, style: Style, request_id: Option<&str>) -> Response<Body> {
        match style {
            Style::OpenAi => self.into_response(),
            Style::Anthropic => self.into_anthropic_response(request_id),
        }
    }

    /// The response, with `Retry-After` when known.
    pub fn into_response(self) -> Response<Body> {
        let body = json!({"error": {
            "message": self.message,
            "type": self.error_type,
            "param": self.param,
            "code": self.code.as_str(),
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
        let mut out =
            ApiError::with_status(StatusCode::BAD_REQUEST, Code::parse(e.code), e.message);
        out.param = e.param.map(String::into_boxed_str);
        out
    }
}

impl From<&Failure> for ApiError {
    fn from(f: &Failure) -> ApiError {
        let mut e = ApiError::with_status(
            f.client_status(),
            Code::parse(&f.client_code()),
            f.to_string(),
        );
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
                    Code::UsageLimitReached,
                    format!(
                        "every account has reached its usage limit; the earliest resets at {} (in {} seconds)",
                        humantime::format_rfc3339_seconds(*earliest_reset),
                        wait.as_secs()
                    ),
                )
                .with_retry_after(wait.max(Duration::from_secs(1)))
            }
            Exhausted::Unavailable { reasons } if reasons.is_empty() => ApiError::new(
                Code::PoolExhausted,
                "no account is configured for this request",
            ),
            Exhausted::Unavailable { reasons } => {
                let list: Vec<String> = reasons.iter().map(|(a, r)| format!("{a}: {r}")).collect();
                ApiError::new(
                    Code::PoolExhausted,
                    format!("no account can serve this request: {}", list.join("; ")),
                )
            }
        }
    }
}

impl From<&ServeError> for ApiError {
    fn from(e: &ServeError) -> ApiError {
        match e {
            ServeError::NoCandidate(x) => ApiError::from(x),
            ServeError::Refused { account, failure } => {
                let mut e = ApiError::from(failure);
                e.account = Some(account.as_str().into());
                e
            }
            // 429 only when every account is usage-limited; otherwise each
            // failure is named.
            ServeError::AllFailed {
                exhausted,
                failures,
            } => {
                if failures.is_empty() || matches!(exhausted, Exhausted::UsageLimited { .. }) {
                    return ApiError::from(exhausted);
                }
                let list: Vec<String> = failures.iter().map(|(a, f)| format!("{a}: {f}")).collect();
                let mut e = ApiError::new(
                    Code::PoolExhausted,
                    format!("no account could serve this request: {}", list.join("; ")),
                );
                if let Some(after) = failures.iter().filter_map(|(_, f)| f.retry_after()).min() {
                    e = e.with_retry_after(after);
                }
                e
            }
        }
    }
}

impl From<&Refusal> for ApiError {
    fn from(r: &Refusal) -> ApiError {
        let message = r.to_string();
        match r {
            Refusal::MissingKey | Refusal::UnknownKey => ApiError::unauthorized(&message),
            Refusal::ModelNotAllowed { .. } => {
                ApiError::new(Code::ModelNotAllowed, message).with_param("model")
            }
            Refusal::RateLimited { wait, .. } => {
                ApiError::new(Code::RateLimited, message).with_retry_after(*wait)
            }
            Refusal::BudgetExceeded { left, .. } => {
                ApiError::new(Code::BudgetExceeded, message).with_retry_after(*left)
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
}
