//! Browser safety for a listener on loopback, where the zero-config gateway
//! answers without a client key: any web page the user visits can send it
//! requests. Two attacks are closed here, before routing:
//!
//! - **DNS rebinding**: a page on `evil.example` re-resolves its name to
//!   127.0.0.1 and then reads answers. Its requests carry `Host: evil.example`,
//!   so a `Host` that is not a loopback name or address is refused.
//! - **Cross-site requests**: a page's `fetch` carries its `Origin`. One that
//!   is not loopback is refused unless `server.allowed_origins` lists it. (A
//!   body without `Content-Type: application/json` is refused with 415 where
//!   bodies are read, `request::read_body`, so a form or `no-cors` request
//!   cannot pass as a simple request; the one route that takes a form,
//!   `/v1/images/edits`, takes it only with a client key header, which a
//!   simple request cannot carry.)
//!
//! Loopback origins (a local web UI on `http://localhost:5173`) keep working.

use std::net::IpAddr;

use http::HeaderMap;

use super::error::{ApiError, Code};
use super::request::bounded;

/// Refuses a request a browser page could have sent against the user's will.
pub(super) fn check(headers: &HeaderMap, allowed_origins: &[String]) -> Result<(), ApiError> {
    if let Some(host) = headers.get(http::header::HOST) {
        let host = host.to_str().unwrap_or("");
        if !is_loopback_host(strip_port(host)) {
            return Err(ApiError::new(
                Code::ForbiddenHost,
                format!(
                    "Host {:?} is not a loopback name: this gateway listens on loopback and answers only requests addressed to it (DNS rebinding protection)",
                    bounded(host)
                ),
            ));
        }
    }
    if let Some(origin) = headers.get(http::header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !origin_allowed(origin, allowed_origins) {
            return Err(ApiError::new(
                Code::ForbiddenOrigin,
                format!(
                    "Origin {:?} may not use this gateway; list it in server.allowed_origins to allow it",
                    bounded(origin)
                ),
            ));
        }
    }
    Ok(())
}

fn origin_allowed(origin: &str, allowed: &[String]) -> bool {
    let origin = origin.trim().trim_end_matches('/');
    if allowed
        .iter()
        .any(|a| a == "*" || a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    // `scheme://host[:port]`; `null` (sandboxed frames, files) is not loopback.
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    matches!(scheme, "http" | "https") && !rest.contains('/') && is_loopback_host(strip_port(rest))
}

/// `host` of `host:port`, `[v6]:port` or a bare name.
fn strip_port(authority: &str) -> &str {
    let a = authority.trim();
    if let Some(rest) = a.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    match a.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => a,
    }
}

/// `localhost`, `*.localhost` (always loopback, RFC 6761), 127.0.0.0/8, `::1`.
fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, http::HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn loopback_hosts_pass_and_others_are_refused() {
        for ok in [
            "127.0.0.1:8787",
            "localhost:8787",
            "localhost",
            "[::1]:8787",
            "127.1.2.3",
            "app.localhost:1",
            "LOCALHOST.",
        ] {
            let h = HeaderMap::from_iter([(http::header::HOST, ok.parse().unwrap())]);
            assert!(check(&h, &[]).is_ok(), "{ok}");
        }
        for bad in [
            "rebind.evil.example",
            "evil.example:8787",
            "10.0.0.1:8787",
            "[::2]:1",
        ] {
            let h = HeaderMap::from_iter([(http::header::HOST, bad.parse().unwrap())]);
            assert_eq!(
                check(&h, &[]).err().map(|e| e.code),
                Some(Code::ForbiddenHost),
                "{bad}"
            );
        }
    }

    #[test]
    fn origins_are_loopback_or_listed() {
        assert!(check(&headers(&[("origin", "http://localhost:5173")]), &[]).is_ok());
        assert!(check(&headers(&[("origin", "http://127.0.0.1:3000")]), &[]).is_ok());
        assert!(check(&headers(&[("origin", "https://[::1]")]), &[]).is_ok());
        for bad in [
            "https://evil.example",
            "null",
            "http://localhost.evil.example",
            "file://",
        ] {
            let e = check(&headers(&[("origin", bad)]), &[]).err();
            assert_eq!(e.map(|e| e.code), Some(Code::ForbiddenOrigin), "{bad}");
        }
        let listed = vec!["https://chat.example.com/".to_string()];
        assert!(check(&headers(&[("origin", "https://chat.example.com")]), &listed).is_ok());
        assert!(check(&headers(&[("origin", "https://other.example")]), &listed).is_err());
        assert!(check(&headers(&[("origin", "https://x.example")]), &["*".into()]).is_ok());
    }
}
