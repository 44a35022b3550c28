//! The mock OAuth issuer's `POST /oauth/token`: scripted answers, or a fresh
//! login with a rotated refresh token; optionally strict about rotation (each
//! refresh token works once, as the real issuer's) and about token lifetime.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::Response;
use serde_json::{json, Value};

use super::{full, jwt, login, Body, Mock, State};

impl Mock {
    /// Each refresh token works once; a spent one is answered
    /// `refresh_token_reused` (and counted: `reused_refreshes`).
    pub fn strict_rotation(&self) {
        self.state.lock().expect("mock state").spent = Some(Default::default());
    }

    /// How many spent refresh tokens were presented again (`strict_rotation`).
    pub fn reused_refreshes(&self) -> u64 {
        self.state.lock().expect("mock state").reused
    }

    /// How long the access tokens the issuer mints live (default an hour).
    pub fn token_lifetime(&self, d: Duration) {
        self.state.lock().expect("mock state").token_lifetime = Some(d);
    }

    /// Total tokens (usage) of the default answers streamed to their end.
    pub fn served_tokens(&self) -> u64 {
        let s = self.state.lock().expect("mock state");
        s.served_tokens.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Answers one `POST /oauth/token` (refresh or code exchange).
pub(super) async fn token(st: &Arc<Mutex<State>>, body: &Value) -> Response<Body> {
    let (answer, delay, n, lifetime) = {
        let mut s = st.lock().expect("mock state");
        s.token_calls.push(body.clone());
        s.refresh_counter += 1;
        let rt = body
            .get("refresh_token")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let reused = match s.spent.as_mut() {
            Some(spent) if !rt.is_empty() => !spent.insert(rt),
            _ => false,
        };
        if reused {
            s.reused += 1;
            return full(
                401,
                json!({"error": {"code": "refresh_token_reused",
                    "message": "Your refresh token has already been used to generate a new access token."}})
                .to_string(),
                "application/json",
            );
        }
        let lifetime = s.token_lifetime.unwrap_or(Duration::from_secs(3600));
        (
            s.token_answers.pop_front(),
            s.token_delay,
            s.refresh_counter,
            lifetime.as_secs(),
        )
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let Some((code, v)) = answer {
        return full(code, v.to_string(), "application/json");
    }
    let iat = login::now();
    let acct = "acct-refreshed";
    full(
        200,
        json!({
            "access_token": jwt(&json!({"exp": iat + lifetime, "iat": iat, "n": n})),
            "id_token": jwt(&json!({"email": "refreshed@example.com", "https://api.openai.com/auth": {"chatgpt_account_id": acct, "chatgpt_plan_type": "pro"}})),
            "refresh_token": format!("rt-rotated-{n}"),
        })
        .to_string(),
        "application/json",
    )
}
