//! The Anthropic Messages dialect (`/v1/messages`, `/v1/messages/count_tokens`).
//!
//! - `request`: a Messages request → the codex-responses body (`content`:
//!   `system` and the messages → instructions and input items; `tools`:
//!   tools and `tool_choice`), and how the answer is to be shaped (`Shape`);
//! - `count`: the local `count_tokens` estimate;
//! - `stream`: upstream events → Messages SSE events (`MessagesStream`);
//! - `answer`: a collected stream → one `message` object, and what the
//!   stream shares with it (usage, stop reason, the stop-sequence cut);
//! - `error`: the `error.type` for a status and a failed stream's `error`
//!   event.

mod answer;
mod content;
mod count;
mod error;
mod request;
pub mod stops;
mod stream;
mod tools;

pub use answer::answer;
pub use content::Content;
pub use count::estimate_input_tokens;
pub use error::{error_frame, error_type};
pub use request::{budget_effort, Message, MessagesRequest, Shape};
pub use stream::MessagesStream;
