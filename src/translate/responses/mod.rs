//! The Responses dialect (`/v1/responses` and the Codex CLI's own route),
//! the backend's own API: a request is normalized to what the backend
//! accepts (`request`), the stream is relayed as upstream sent it
//! (`stream`), a collected stream is upstream's final response (`answer`),
//! and a stream that fails after it began ends with an `error` event
//! (`error`).

mod answer;
mod error;
mod request;
mod stream;

pub use answer::answer;
pub use error::error_frame;
pub use request::{normalize, with_base_instructions};
pub use stream::Passthrough;
