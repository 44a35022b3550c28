//! Reading the claims of ChatGPT's JWTs (id and access tokens).
//!
//! The signature is not checked: these tokens are ours, read from our own file,
//! and only tell us the account id, plan, email and expiry. Decoding the payload
//! is base64url + JSON, which does not justify pulling in a JWT crate with a
//! crypto backend.

use base64::Engine;
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// Expiry, unix seconds.
    pub exp: Option<i64>,
    /// Issued at, unix seconds.
    pub iat: Option<i64>,
    pub email: Option<String>,
    #[serde(rename = "https://api.openai.com/auth", default)]
    pub auth: AuthClaims,
    #[serde(rename = "https://api.openai.com/profile", default)]
    pub profile: ProfileClaims,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct AuthClaims {
    pub chatgpt_account_id: Option<String>,
    pub chatgpt_plan_type: Option<String>,
    pub chatgpt_user_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct ProfileClaims {
    pub email: Option<String>,
}

impl Claims {
    pub fn email(&self) -> Option<&str> {
        self.email.as_deref().or(self.profile.email.as_deref())
    }
}

/// The payload of a JWT, or `None` when it is not one.
pub fn decode(token: &str) -> Option<Claims> {
    let mut parts = token.split('.');
    let (_header, payload) = (parts.next()?, parts.next()?);
    parts.next()?;
    let payload = payload.trim_end_matches('=');
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Builds an unsigned JWT with the given JSON payload (tests and mock issuers use it).
pub fn encode_unsigned(payload: &serde_json::Value) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.{}",
        b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(payload.to_string()),
        b64.encode(b"sig")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_chatgpt_claims() {
        let token = encode_unsigned(&json!({
            "exp": 1_900_000_000,
            "email": "a@example.com",
            "https://api.openai.com/auth": {
                "chatgpt_account_id": "acc-1",
                "chatgpt_plan_type": "pro",
                "chatgpt_user_id": "user-1"
            }
        }));
        let c = decode(&token).unwrap_or_default();
        assert_eq!(c.exp, Some(1_900_000_000));
        assert_eq!(c.email(), Some("a@example.com"));
        assert_eq!(c.auth.chatgpt_account_id.as_deref(), Some("acc-1"));
        assert_eq!(c.auth.chatgpt_plan_type.as_deref(), Some("pro"));
    }

    #[test]
    fn rejects_what_is_not_a_jwt() {
        assert_eq!(decode("opaque-token"), None);
        assert_eq!(decode("a.b"), None);
        assert_eq!(decode("a.!!!.c"), None);
        assert_eq!(decode(""), None);
    }
}
