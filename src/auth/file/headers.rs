//! The header values a login sends upstream, built once per login rather
//! than per request: `authorization` (`Bearer <access token>`, marked
//! sensitive) and `chatgpt-account-id`. A clone of either is a reference
//! count, not a copy of the token.
//!
//! They live inside the `Credentials` they are made from. A refreshed,
//! rotated or newly loaded login is a new `Credentials`, swapped whole into
//! the account's `slot::TokenSlot`, so it brings its own values: a request
//! reads the token and the account id from one `Credentials` and never pairs
//! one login's token with another's id, nor sends a token the slot replaced
//! before it picked its credentials.

use std::fmt;
use std::sync::OnceLock;

use bytes::Bytes;
use http::HeaderValue;

use super::Credentials;

/// A login's header values, built the first time a request needs them.
/// Never shown: its `Debug` says nothing of the token.
#[derive(Default)]
pub struct HeaderCache(OnceLock<LoginHeaders>);

/// What a login puts on every upstream request.
pub struct LoginHeaders {
    /// `Bearer <access token>`, sensitive; `None` when the token is not a
    /// valid header value (the request fails as unauthorized).
    pub authorization: Option<HeaderValue>,
    /// The account id, when the login has one that is a valid header value.
    pub account_id: Option<HeaderValue>,
}

impl Clone for HeaderCache {
    /// Empty: a clone may be changed before it is used, and builds its own.
    fn clone(&self) -> HeaderCache {
        HeaderCache::default()
    }
}

impl fmt::Debug for HeaderCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HeaderCache(..)")
    }
}

impl LoginHeaders {
    fn new(token: &str, account_id: Option<&str>) -> LoginHeaders {
        let bearer = Bytes::from(format!("Bearer {token}"));
        let authorization = HeaderValue::from_maybe_shared(bearer).ok().map(|mut v| {
            v.set_sensitive(true);
            v
        });
        LoginHeaders {
            authorization,
            account_id: account_id.and_then(|id| HeaderValue::from_str(id).ok()),
        }
    }
}

impl Credentials {
    /// This login's `authorization` and `chatgpt-account-id` values. A
    /// `Credentials` is not changed once shared (the slot swaps whole ones),
    /// so the values built on first use stay its own.
    pub fn headers(&self) -> &LoginHeaders {
        self.header_cache.0.get_or_init(|| {
            LoginHeaders::new(self.access_token.expose(), self.account_id.as_deref())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn creds(token: &str, account_id: Option<&str>) -> Credentials {
        Credentials {
            access_token: Secret::new(token.into()),
            refresh_token: Secret::new("rt-secret".into()),
            account_id: account_id.map(str::to_owned),
            email: None,
            plan: None,
            expires_at: None,
            last_refresh: None,
            issued_at: None,
            header_cache: HeaderCache::default(),
        }
    }

    #[test]
    fn built_once_from_the_login_and_never_shown() {
        let c = creds("at-visible-secret", Some("acc-1"));
        let h = c.headers();
        let bearer = h.authorization.as_ref().unwrap();
        assert_eq!(bearer, "Bearer at-visible-secret");
        assert!(bearer.is_sensitive());
        assert_eq!(h.account_id.as_ref().unwrap(), "acc-1");
        assert!(std::ptr::eq(h, c.headers()), "built once");
        let shown = format!("{c:?} {:?}", c.header_cache);
        assert!(!shown.contains("at-visible-secret"), "{shown}");
    }

    #[test]
    fn a_changed_clone_builds_its_own() {
        let old = creds("at-old", Some("acc-old"));
        old.headers();
        let mut new = old.clone();
        new.access_token = Secret::new("at-new".into());
        new.account_id = Some("acc-new".into());
        assert_eq!(
            new.headers().authorization.as_ref().unwrap(),
            "Bearer at-new"
        );
        assert_eq!(new.headers().account_id.as_ref().unwrap(), "acc-new");
        assert_eq!(
            old.headers().authorization.as_ref().unwrap(),
            "Bearer at-old"
        );
    }

    #[test]
    fn values_that_cannot_be_headers_are_left_out() {
        let c = creds("at\nbad", Some("acc\r\nx"));
        assert!(c.headers().authorization.is_none());
        assert!(c.headers().account_id.is_none());
        assert!(creds("at", None).headers().account_id.is_none());
    }
}
