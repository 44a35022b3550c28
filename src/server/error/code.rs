//! The gateway's own error codes, each with the HTTP status one exhaustive
//! match gives it, and the bounded `code` metric label.

use http::StatusCode;

/// Codes upstream chooses that keep their name as a metric label; the
/// label of any other upstream code is `other`, so the series stay bounded.
pub(crate) const UPSTREAM_LABELS: &[&str] = &[
    "context_length_exceeded",
    "server_is_overloaded",
    "rate_limit_exceeded",
    "invalid_prompt",
    "content_policy_violation",
    "bad_request",
];

/// An error `code` a client can see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Code {
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
    /// No account tried has a plan with the hosted tool the request needs.
    ToolNotInPlan,
    /// A code upstream chose (`context_length_exceeded`, …), kept as it said.
    Upstream(Box<str>),
}

impl Code {
    /// Every code the gateway itself can choose.
    pub(crate) const ALL: &'static [Code] = &[
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
        Code::ToolNotInPlan,
    ];

    pub(crate) fn as_str(&self) -> &str {
        match self {
            Code::Upstream(code) => code,
            known => known.name(),
        }
    }

    /// The `code` metric label: the gateway's codes by name, upstream's when
    /// it is one the label keeps (`UPSTREAM_LABELS`), else `other`.
    pub(crate) fn label(&self) -> &'static str {
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
            Code::ToolNotInPlan => "tool_not_in_plan",
            Code::Upstream(_) => "other",
        }
    }

    /// The code for a string: one of the gateway's, else upstream's own.
    pub(crate) fn parse(code: &str) -> Code {
        Code::ALL
            .iter()
            .find(|c| c.as_str() == code)
            .cloned()
            .unwrap_or_else(|| Code::Upstream(code.into()))
    }

    /// The HTTP status of a gateway code; `None` for upstream's codes, whose
    /// status comes from the failure that carried them.
    pub(crate) fn status(&self) -> Option<StatusCode> {
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
            | Code::UsageNotIncluded
            | Code::ToolNotInPlan => StatusCode::FORBIDDEN,
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
