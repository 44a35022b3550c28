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
    /// `POST /v1/messages` (Anthropic Messages).
    Messages,
    /// `POST /v1/messages/count_tokens` (answered locally).
    CountTokens,
    /// `POST /v1/images/generations` (`server/images/`).
    Images,
    /// `POST /v1/images/edits` (multipart).
    ImageEdits,
}

impl Route {
    pub const ALL: [Route; 7] = [
        Route::Chat,
        Route::Responses,
        Route::Codex,
        Route::Messages,
        Route::CountTokens,
        Route::Images,
        Route::ImageEdits,
    ];

    /// The `route` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Chat => "chat",
            Route::Responses => "responses",
            Route::Codex => "codex",
            Route::Messages => "messages",
            Route::CountTokens => "count_tokens",
            Route::Images => "images",
            Route::ImageEdits => "image_edits",
        }
    }

    /// Whether requests on the route belong to conversations (affinity
    /// places them). An image is a conversation of one: nothing to keep.
    pub fn has_conversations(self) -> bool {
        match self {
            Route::Chat
            | Route::Responses
            | Route::Codex
            | Route::Messages
            | Route::CountTokens => true,
            Route::Images | Route::ImageEdits => false,
        }
    }
}
