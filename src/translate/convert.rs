//! The stream converter: what every dialect's stream implements (`Convert`)
//! and where a stream stands after one event (`Step`).
//!
//! A converter is pure and synchronous: it gets one upstream event at a
//! time, already parsed (`upstream::events::Relayed`), and appends what
//! the client gets for it to a buffer. The relay loop (`server/relay.rs`)
//! owns the I/O, the idle timeout and the ledger. Implemented beside each
//! converter: `chat::ChatStream`, `anthropic::MessagesStream`,
//! `responses::Passthrough`.

use bytes::BytesMut;

use crate::upstream::events::{Relayed, Usage};
use crate::upstream::Failure;

/// Where a stream stands after one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Continue,
    /// The stream ended normally (the dialect's end written).
    Done,
    /// Upstream failed mid-stream (an error frame written).
    Failed(Failure),
}

/// A dialect's per-event conversion of the upstream stream.
pub trait Convert: Send + 'static {
    /// Appends what the client gets for one upstream event.
    fn convert(&mut self, event: Relayed<'_>, out: &mut BytesMut) -> Step;
    /// Appends the frame that tells the client the stream failed.
    fn error_frame(&self, failure: &Failure, out: &mut BytesMut);
    /// The model and usage the finished stream reported.
    fn outcome(&self) -> (Option<&str>, Option<&Usage>);
}

/// Feeds one `data:` payload (no SSE name) to `conv`, parsed as the relay
/// parses it: for converter tests.
#[cfg(test)]
pub(crate) fn feed(conv: &mut impl Convert, data: &str, out: &mut BytesMut) -> Step {
    let event = crate::upstream::events::Event::parse(data).ok();
    let relayed = Relayed {
        name: None,
        data,
        event: event.as_ref(),
    };
    conv.convert(relayed, out)
}
