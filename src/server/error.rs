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
mod code;

pub(crate) use code::Code;

/// Which envelope a route's errors are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Style {
    /// `{"error":{"message","type","param","code"}}`.
    #[default]
    OpenAi,
    /// `{"type":"error","error":{"type","message"}}` (`error/anthropic.rs`).
    Anthropic,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
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
    pub(crate) fn new(code: Code, message: impl Into<String>) -> ApiError {
        let status = code.status().unwrap_or(StatusCode::BAD_GATEWAY);
        ApiError::with_status(status, code, message)
    }

    /// An error whose status the context decides (upstream's codes, or a
    /// gateway code used where its usual status would mislead).
    pub(crate) fn with_status(
        status: StatusCode,
        code: Code,
        message: impl Into<String>,
    ) -> ApiError {
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

    pub(crate) fn with_param(mut self, param: impl Into<String>) -> ApiError {
        self.param = Some(param.into().into_boxed_str());
        self
    }

    pub(crate) fn with_retry_after(mut self, after: Duration) -> ApiError {
        self.retry_after = Some(after);
        self
    }

    pub(crate) fn not_found(path: &str) -> ApiError {
        ApiError::new(Code::NotFound, format!("no route for {path}"))
    }

    pub(crate) fn method_not_allowed(method: &http::Method, path: &str) -> ApiError {
        ApiError::new(
            Code::MethodNotAllowed,
            format!("{method} is not allowed on {path}"),
        )
    }

    pub(crate) fn too_large(limit: usize) -> ApiError {
        ApiError::new(
            Code::RequestTooLarge,
            format!("the request body is larger than the limit of {limit} bytes (server.max_body_bytes)"),
        )
    }

    pub(crate) fn unauthorized(message: &str) -> ApiError {
        ApiError::new(Code::InvalidApiKey, message)
    }

    pub(crate) fn overloaded(what: &str) -> ApiError {
        ApiError::new(
            Code::ServerBusy,
            format!("the gateway is at its limit of {what}; retry shortly"),
        )
        .with_retry_after(Duration::from_secs(1))
    }

    pub(crate) fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(Code::InternalError, message)
    }

    /// The response in `style`'s envelope.
    pub(crate) fn into_response_as(self, style: Style, request_id: Option<&str>) -> Response<Body> {
        match style {
            Style::OpenAi => self.into_response(),
            Style::Anthropic => self.into_anthropic_response(request_id),
        }
    }

    /// The response, with `Retry-After` when known.
    pub(crate) fn into_response(self) -> Response<Body> {
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
                        crate::clock::rfc3339_seconds(*earliest_reset),
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
            ServeError::ModelUnavailable { model, reasons } => {
                let list: Vec<String> = reasons.iter().map(|(a, r)| format!("{a}: {r}")).collect();
                ApiError::new(
                    Code::ModelUnavailable,
                    format!(
                        "no account in this pool may use the model '{model}': {}",
                        list.join("; ")
                    ),
                )
                .with_param("model")
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
                if let Some(e) = no_plan_has_tool(failures) {
                    return e;
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

/// Every account tried refused only because its plan lacks the request's
/// tool: the client hears that no account can do it, not that the pool broke.
fn no_plan_has_tool(failures: &[(String, Failure)]) -> Option<ApiError> {
    let mut tool = None;
    for (_, f) in failures {
        let Failure::ToolNotInPlan { tool: t, .. } = f else {
            return None;
        };
        tool = Some(*t);
    }
    let tool = tool?;
    let names: Vec<&str> = failures.iter().map(|(a, _)| a.as_str()).collect();
    let what = if tool == "image_generation" {
        "make images"
    } else {
        "use this tool"
    };
    Some(ApiError::new(
        Code::ToolNotInPlan,
        format!(
            "no account in the pool can {what}: the plan of every account tried ({}) does not include the {tool} tool (ChatGPT Free does not; Plus, Pro, Team and Business do)",
            names.join(", ")
        ),
    ))
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
mod tests;
