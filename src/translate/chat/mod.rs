//! The Chat Completions dialect (`/v1/chat/completions`).
//!
//! - `request`: a Chat request → the codex-responses body (`messages`: the
//!   messages → input items; `tools`: tools, `tool_choice`, `response_format`);
//! - `stream`: upstream events → `chat.completion.chunk` frames (`ChatStream`);
//! - `answer`: a collected stream → one `chat.completion` object;
//! - `wire`: the chunk structs and the usage object both answers share;
//! - `error`: a failure inside a stream, as an OpenAI error frame.

mod answer;
mod error;
mod messages;
mod request;
mod stream;
mod tools;
mod wire;

pub use answer::answer;
pub use error::error_frame;
pub use request::{ChatRequest, Message, ReasoningParam, StreamOptions};
pub use stream::ChatStream;
