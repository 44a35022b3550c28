//! The Responses dialect (`/v1/responses` and the Codex CLI's own route),
//! the backend's own API: a request is normalized to what the backend
//! accepts (`request`), a collected stream is upstream's final response
//! (`answer`).

mod answer;
mod request;

pub use answer::answer;
pub use request::{normalize, with_base_instructions};
