//! The API route families a client request can take: one name each for
//! metric labels, the activity log and the relay's choice of converter.

/// A proxied API route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /v1/chat/completions`.
    Chat,
    /// `POST /v1/responses`.
    Responses,
    /// `POST /backend-api/codex/responses`: the Codex CLI in its own
    /// ChatGPT-login mode (`server/native/`), served as `Responses` is.
    Codex,
}

impl Route {
    pub const ALL: [Route; 3] = [Route::Chat, Route::Responses, Route::Codex];

    /// The `route` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Chat => "chat",
            Route::Responses => "responses",
            Route::Codex => "codex",
        }
    }
}
