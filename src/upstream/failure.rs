//! Upstream failures, classified truthfully (docs/upstream.md §5, §9).
//!
//! Each failure knows its metric label (`kind`), whether another account could
//! serve the request (`retryable`), and what it does to the account (`setback`).

use std::time::{Duration, SystemTime};

use http::StatusCode;
use serde_json::Value;

use crate::pool::breaker::LONGEST_COOLDOWN;
use crate::pool::Setback;
use parse::{error_message, is_cloudflare, resets_at, retry_after, snippet, try_again_in};
mod parse;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Failure {
    #[error("usage limit reached{}", resets_text(*.resets_at))]
    UsageLimited {
        resets_at: Option<SystemTime>,
        message: String,
    },
    #[error("this plan does not include Codex: {message}")]
    UsageNotIncluded { message: String },
    #[error("upstream is throttling this account: {message}")]
    RateLimited {
        retry_after: Option<Duration>,
        message: String,
    },
    #[error("upstream refused the account's login ({status}): {message}")]
    Unauthorized { status: u16, message: String },
    #[error("upstream's edge (Cloudflare) blocked the request")]
    CloudflareBlocked,
    #[error("upstream refused this account ({status}): {message}")]
    Forbidden { status: u16, message: String },
    #[error("upstream error {status}: {message}")]
    ServerError { status: u16, message: String },
    #[error("upstream did not answer within {after:?} ({phase})")]
    Timeout {
        phase: &'static str,
        after: Duration,
    },
    #[error("cannot reach upstream: {message}")]
    Connect { message: String },
    #[error("upstream rejected the request ({status}): {message}")]
    BadRequest {
        status: u16,
        code: Option<String>,
        message: String,
    },
    #[error("upstream stream failed ({}): {message}", code.as_deref().unwrap_or("no code"))]
    StreamFailed {
        code: Option<String>,
        message: String,
    },
    #[error("upstream stream ended before response.completed")]
    StreamTruncated,
    /// The model needs a newer Codex than the `version` sent (its catalog
    /// `minimal_client_version`): no account would do better, none is cooled.
    #[error("upstream wants a newer Codex version for {}{}: {message}",
        model.as_deref().unwrap_or("this model"),
        wanted.as_deref().map(|w| format!(" (at least {w})")).unwrap_or_default())]
    VersionTooOld {
        model: Option<String>,
        /// The version the catalog asks for, when the gateway knows it.
        wanted: Option<String>,
        message: String,
    },
    /// This account may not use this model (its plan) or a field of the
    /// request (its organization): another account may; this one is not
    /// cooled, only its (account, model) pair is set aside for a while.
    #[error("this account's {scope} may not use {}: {message}", model.as_deref().unwrap_or("this model"))]
    NotEntitled {
        /// `plan` or `organization`.
        scope: &'static str,
        model: Option<String>,
        message: String,
    },
    /// A safety system refused the content: passed to the client as it came,
    /// never failed over, nothing cooled.
    #[error("{message}")]
    Blocked {
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// The stream broke after output began (the edge drops a chunked answer
    /// that stays silent for about two minutes, as long reasoning can).
    #[error("upstream closed the stream after output began ({cause}); the answer is incomplete, send the turn again")]
    StreamCut { cause: String },
    /// The account's plan does not offer a hosted tool the request forces
    /// (`docs/upstream.md` §10: ChatGPT Free and `image_generation`). Another
    /// account may have it; this one is fine for everything else.
    #[error("this account's plan cannot use the {tool} tool: {message}")]
    ToolNotInPlan { tool: &'static str, message: String },
}

fn resets_text(at: Option<SystemTime>) -> String {
    match at {
        Some(t) => format!("; resets at {}", crate::clock::rfc3339_seconds(t)),
        None => String::new(),
    }
}

/// The 400 the backend gives an account whose plan has no image generation
/// when a request forces the tool (`docs/upstream.md` §10).
const IMAGES_NOT_IN_PLAN: &str = "Tool choice 'image_generation' not found in 'tools'";

/// Stream failure codes that are the request's own fault: another account would fail too.
const CLIENT_FAULT_CODES: &[&str] = &[
    "context_length_exceeded",
    "invalid_prompt",
    "invalid_request_error",
    "invalid_image",
    "invalid_image_url",
    "image_parse_error",
    "content_policy_violation",
    "cyber_policy_violation",
    "bad_request",
    "model_not_found",
];

impl Failure {
    /// The low-cardinality label used in metrics, logs and the activity view.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::UsageLimited { .. } | Failure::UsageNotIncluded { .. } => "usage_limited",
            Failure::RateLimited { .. } => "rate_limited",
            Failure::Unauthorized { .. } | Failure::Forbidden { .. } => "auth_failed",
            Failure::CloudflareBlocked => "cloudflare_blocked",
            Failure::ServerError { .. } => "server_error",
            Failure::Timeout { .. } => "timeout",
            Failure::Connect { .. } => "connect_error",
            Failure::BadRequest { .. } => "bad_request",
            Failure::StreamFailed { .. } | Failure::StreamTruncated | Failure::StreamCut { .. } => {
                "stream_failed"
            }
            Failure::VersionTooOld { .. } => "version_too_old",
            Failure::NotEntitled { .. } => "not_entitled",
            Failure::Blocked { .. } => "blocked",
            Failure::ToolNotInPlan { .. } => "not_in_plan",
        }
    }

    /// Whether the failure says something about the account itself (its
    /// quota, its login, its standing at the edge) rather than about upstream
    /// or the request: those move the account at once; the others (5xx,
    /// timeouts, broken streams) count toward outlier detection and the
    /// request's retry budget.
    pub fn blames_account(&self) -> bool {
        match self {
            Failure::UsageLimited { .. }
            | Failure::UsageNotIncluded { .. }
            | Failure::RateLimited { .. }
            | Failure::Unauthorized { .. }
            | Failure::CloudflareBlocked
            | Failure::Forbidden { .. }
            | Failure::BadRequest { .. }
            | Failure::ToolNotInPlan { .. } => true,
            Failure::ServerError { .. }
            | Failure::Timeout { .. }
            | Failure::Connect { .. }
            | Failure::StreamFailed { .. }
            | Failure::StreamTruncated
            | Failure::StreamCut { .. }
            | Failure::VersionTooOld { .. }
            | Failure::NotEntitled { .. }
            | Failure::Blocked { .. } => false,
        }
    }

    /// The 400 an account gives for encrypted content another account
    /// produced (`docs/upstream.md` §12).
    pub fn refuses_encrypted_content(&self) -> bool {
        match self {
            Failure::BadRequest { code, message, .. } => {
                code.as_deref() == Some("invalid_encrypted_content")
                    || message.contains("Encrypted content organization_id did not match")
                    || message.contains("Could not decode the compaction blob")
            }
            _ => false,
        }
    }

    /// Whether another account may serve the request.
    pub fn retryable(&self) -> bool {
        match self {
            Failure::BadRequest { .. }
            | Failure::VersionTooOld { .. }
            | Failure::Blocked { .. }
            | Failure::StreamCut { .. } => false,
            Failure::StreamFailed { code, .. } => !code
                .as_deref()
                .is_some_and(|c| CLIENT_FAULT_CODES.contains(&c)),
            _ => true,
        }
    }

    /// What this failure does to the account that produced it.
    pub fn setback(&self) -> Option<Setback> {
        let transient = |kind, retry_after| Some(Setback::Transient { kind, retry_after });
        match self {
            Failure::UsageLimited { resets_at, .. } => Some(Setback::UsageLimited {
                // No reset time given: assume the 5-hour window's worst case is not
                // known and cool for a conservative 15 minutes.
                resets_at: resets_at
                    .unwrap_or_else(|| SystemTime::now() + Duration::from_secs(900)),
            }),
            Failure::UsageNotIncluded { .. } => Some(Setback::UsageNotIncluded),
            Failure::RateLimited { retry_after, .. } => transient("rate_limited", *retry_after),
            // Only the issuer's verdict makes a login dead (`Setback::from` a
            // `RefreshError`); upstream's 401 cools the account and a probe
            // tries it again later (the request path refreshes before this).
            Failure::Unauthorized { .. } => Some(Setback::LoginRejected),
            Failure::CloudflareBlocked => transient("cloudflare_blocked", None),
            Failure::Forbidden { .. } => transient("forbidden", None),
            Failure::ServerError { .. } => transient("server_error", None),
            Failure::Timeout { .. } => transient("timeout", None),
            Failure::Connect { .. } => transient("connect_error", None),
            Failure::StreamFailed { .. } | Failure::StreamTruncated if self.retryable() => {
                transient("stream_failed", None)
            }
            // The account stays as usable as it was: only this request's
            // tool is out of its plan.
            Failure::StreamFailed { .. }
            | Failure::StreamTruncated
            | Failure::BadRequest { .. }
            | Failure::StreamCut { .. }
            | Failure::VersionTooOld { .. }
            | Failure::NotEntitled { .. }
            | Failure::Blocked { .. } => None,
            Failure::ToolNotInPlan { .. } => None,
        }
    }

    /// Classifies a non-2xx answer from its status, headers and (bounded) body.
    pub fn from_response(status: StatusCode, headers: &http::HeaderMap, body: &[u8]) -> Failure {
        let text = String::from_utf8_lossy(body);
        let json: Option<Value> = serde_json::from_slice(body).ok();
        let message = json
            .as_ref()
            .and_then(error_message)
            .unwrap_or_else(|| snippet(&text));
        let error_type = json.as_ref().and_then(|j| {
            j.pointer("/error/type")
                .or_else(|| j.pointer("/error/code"))
                .or_else(|| j.pointer("/detail/code"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        let code = status.as_u16();
        if let Some(f) = Failure::refusal_2026(code, error_type.as_deref(), json.as_ref(), &message)
        {
            return f;
        }
        match (code, error_type.as_deref()) {
            (_, Some("usage_limit_reached")) => Failure::UsageLimited {
                resets_at: json.as_ref().and_then(resets_at),
                message,
            },
            (_, Some("usage_not_included")) => Failure::UsageNotIncluded { message },
            (429, _) => Failure::RateLimited {
                retry_after: retry_after(headers).or_else(|| try_again_in(&message)),
                message,
            },
            (401, _) => Failure::Unauthorized {
                status: code,
                message,
            },
            (403, _) if is_cloudflare(headers, &text) => Failure::CloudflareBlocked,
            (c, _) if parse::is_cloudflare_origin_error(c, headers, &text) => {
                Failure::CloudflareBlocked
            }
            // Not the login (a new one would not help): region, policy, a WAF
            // page without Cloudflare's marks. Cool down and let others serve.
            (403, _) => Failure::Forbidden {
                status: code,
                message,
            },
            // Redirects are not followed (a token must not travel elsewhere).
            (300..=399, _) => Failure::ServerError {
                status: code,
                message: format!("unexpected redirect: {message}"),
            },
            (500..=599, _) => Failure::ServerError {
                status: code,
                message,
            },
            (400, _) if message.contains(IMAGES_NOT_IN_PLAN) => Failure::ToolNotInPlan {
                tool: "image_generation",
                message,
            },
            (408, _) => Failure::Timeout {
                phase: "upstream 408",
                after: Duration::ZERO,
            },
            _ => Failure::BadRequest {
                status: code,
                code: error_type,
                message,
            },
        }
    }

    /// The refusals the backend added in 2026, recognised by their words
    /// before the status decides (`docs/upstream.md` §12).
    fn refusal_2026(
        status: u16,
        error_type: Option<&str>,
        json: Option<&Value>,
        message: &str,
    ) -> Option<Failure> {
        if parse::safety_block(message) {
            return Some(Failure::Blocked {
                status,
                code: error_type.map(str::to_owned),
                message: message.to_owned(),
            });
        }
        if !(400..500).contains(&status) || status == 429 {
            return None;
        }
        if parse::wants_newer_version(message) {
            return Some(Failure::VersionTooOld {
                model: parse::quoted_model(message),
                wanted: None,
                message: message.to_owned(),
            });
        }
        let scope = if parse::plan_lacks_model(message) {
            "plan"
        } else if parse::organization_refuses(error_type, json, message) {
            "organization"
        } else {
            return None;
        };
        Some(Failure::NotEntitled {
            scope,
            model: parse::quoted_model(message),
            message: message.to_owned(),
        })
    }

    /// Classifies `response.failed` / `error` events inside a 200 stream.
    pub fn from_stream_error(code: Option<String>, message: Option<String>) -> Failure {
        let message = message.unwrap_or_else(|| "no message".into());
        if let Some(f) = Failure::refusal_2026(400, code.as_deref(), None, &message) {
            return f;
        }
        match code.as_deref() {
            Some("usage_limit_reached" | "insufficient_quota") => Failure::UsageLimited {
                resets_at: None,
                message,
            },
            Some("usage_not_included") => Failure::UsageNotIncluded { message },
            Some("rate_limit_exceeded") => Failure::RateLimited {
                retry_after: try_again_in(&message),
                message,
            },
            _ => Failure::StreamFailed { code, message },
        }
    }

    /// HTTP status for a client that gets this failure.
    pub fn client_status(&self) -> StatusCode {
        match self {
            Failure::UsageLimited { .. } | Failure::RateLimited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Failure::UsageNotIncluded { .. } | Failure::ToolNotInPlan { .. } => {
                StatusCode::FORBIDDEN
            }
            Failure::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            Failure::BadRequest { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST)
            }
            Failure::StreamFailed { .. } if !self.retryable() => StatusCode::BAD_REQUEST,
            Failure::VersionTooOld { .. } | Failure::NotEntitled { .. } => StatusCode::BAD_REQUEST,
            Failure::Blocked { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST)
            }
            Failure::StreamFailed { code, .. }
                if code.as_deref() == Some("server_is_overloaded") =>
            {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Failure::Unauthorized { .. }
            | Failure::Forbidden { .. }
            | Failure::CloudflareBlocked
            | Failure::ServerError { .. }
            | Failure::Connect { .. }
            | Failure::StreamFailed { .. }
            | Failure::StreamTruncated
            | Failure::StreamCut { .. } => StatusCode::BAD_GATEWAY,
        }
    }

    /// The `code` of the client's error envelope.
    pub fn client_code(&self) -> String {
        match self {
            Failure::UsageLimited { .. } => "usage_limit_reached".into(),
            Failure::UsageNotIncluded { .. } => "usage_not_included".into(),
            Failure::RateLimited { .. } => "upstream_rate_limited".into(),
            Failure::Unauthorized { .. } => "account_auth_failed".into(),
            Failure::CloudflareBlocked => "cloudflare_blocked".into(),
            Failure::Forbidden { .. } => "upstream_forbidden".into(),
            Failure::ServerError { .. } | Failure::Connect { .. } => "upstream_unavailable".into(),
            Failure::Timeout { .. } => "upstream_timeout".into(),
            Failure::BadRequest { code, .. } => code
                .clone()
                .unwrap_or_else(|| "invalid_request_error".into()),
            Failure::StreamFailed { code, .. } => code
                .clone()
                .unwrap_or_else(|| "upstream_stream_failed".into()),
            Failure::StreamTruncated => "upstream_stream_truncated".into(),
            Failure::StreamCut { .. } => "upstream_stream_cut".into(),
            Failure::VersionTooOld { .. } => "client_version_too_old".into(),
            Failure::NotEntitled { scope: "plan", .. } => "model_not_in_plan".into(),
            Failure::NotEntitled { .. } => "organization_refused".into(),
            Failure::Blocked { code, .. } => {
                code.clone().unwrap_or_else(|| "content_blocked".into())
            }
            Failure::ToolNotInPlan { .. } => "tool_not_in_plan".into(),
        }
    }

    /// The 400 the backend gives while it accepts only the model's own prompt
    /// as `instructions` (the request is then resent with
    /// `translate::responses::with_base_instructions`).
    pub fn refuses_instructions(&self) -> bool {
        matches!(self, Failure::BadRequest { message, .. } if message.contains("Instructions are not valid"))
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Failure::UsageLimited {
                resets_at: Some(t), ..
            } => Some(
                t.duration_since(SystemTime::now())
                    .unwrap_or(Duration::ZERO)
                    .min(LONGEST_COOLDOWN),
            ),
            Failure::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
