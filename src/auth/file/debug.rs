//! `Debug` for the auth file types that shows no secret: tokens print masked
//! (`Secret`), and of the fields this program does not know only the names.

use std::fmt;

use serde_json::{Map, Value};

use super::{AuthFile, TokenData};

/// The names of unknown fields, without their values (a newer Codex file can
/// carry `personal_access_token` or `bedrock_api_key` there).
struct Names<'a>(&'a Map<String, Value>);

impl fmt::Debug for Names<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl fmt::Debug for AuthFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthFile")
            .field("auth_mode", &self.auth_mode)
            .field("openai_api_key", &self.openai_api_key)
            .field("tokens", &self.tokens)
            .field("last_refresh", &self.last_refresh)
            .field("extra", &Names(&self.extra))
            .finish()
    }
}

impl fmt::Debug for TokenData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenData")
            .field("id_token", &self.id_token)
            .field("access_token", &self.access_token)
            .field("refresh_token", &self.refresh_token)
            .field("account_id", &self.account_id)
            .field("extra", &Names(&self.extra))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use serde_json::json;

    #[test]
    fn debug_names_unknown_fields_but_never_shows_their_values() {
        let file: AuthFile = serde_json::from_value(json!({
            "auth_mode": "chatgpt",
            "OPENAI_API_KEY": "sk-visible-key",
            "personal_access_token": "pat-visible-secret",
            "agent_identity": {"private_key": "agent-visible-secret"},
            "tokens": {
                "id_token": "id-visible", "access_token": "at-visible",
                "refresh_token": "rt-visible", "account_id": "acc-1",
                "bedrock_api_key": "bedrock-visible-secret"
            }
        }))
        .unwrap();
        let shown = format!("{file:?} {:#?}", file.tokens);
        for name in [
            "personal_access_token",
            "agent_identity",
            "bedrock_api_key",
            "acc-1",
        ] {
            assert!(shown.contains(name), "{name} missing: {shown}");
        }
        assert!(!shown.contains("visible"), "a secret shows: {shown}");
    }
}
