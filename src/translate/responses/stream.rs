//! The Responses stream: upstream's events relayed as upstream sent them.
//!
//! Nothing is rewritten; the parse the relay made of each event only says
//! whether the stream ends with it (completed, incomplete, failed) and
//! what the finished response reports (model, usage).

use bytes::BytesMut;

use super::error::error_frame;
use crate::translate::{Convert, Step};
use crate::upstream::events::{Kind, Relayed, Usage};
use crate::upstream::{sse, Failure};

/// The relay state of one Responses stream.
#[derive(Debug, Default)]
pub struct Passthrough {
    model: Option<String>,
    usage: Option<Usage>,
}

impl Convert for Passthrough {
    fn convert(&mut self, relayed: Relayed<'_>, out: &mut BytesMut) -> Step {
        let Relayed { name, data, event } = relayed;
        let name = name.or(event.map(|e| e.name.as_ref()));
        out.reserve(data.len() + 48);
        sse::encode(name, data, out);
        let Some(event) = event else {
            return Step::Continue;
        };
        if let Some(f) = event.failure() {
            return Step::Failed(f);
        }
        if matches!(event.kind(), Kind::Completed | Kind::Incomplete) {
            let info = event.response().unwrap_or_default();
            self.model = info.model;
            self.usage = info.usage;
            return Step::Done;
        }
        Step::Continue
    }

    fn error_frame(&self, f: &Failure, out: &mut BytesMut) {
        error_frame(f, out);
    }

    fn outcome(&self) -> (Option<&str>, Option<&Usage>) {
        (self.model.as_deref(), self.usage.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::convert::feed;
    use crate::upstream::events::Event;

    #[test]
    fn events_are_relayed_as_sent_and_named_by_their_type_when_upstream_named_none() {
        let mut p = Passthrough::default();
        let mut out = BytesMut::new();
        let data = r#"{"type":"response.output_text.delta","delta":"hi"}"#;
        assert_eq!(feed(&mut p, data, &mut out), Step::Continue);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            format!("event: response.output_text.delta\ndata: {data}\n\n")
        );
        // Upstream's own name is kept, and what is not an event passes too.
        let mut out = BytesMut::new();
        let relayed = Relayed {
            name: Some("keepalive"),
            data: "not json",
            event: None,
        };
        assert_eq!(p.convert(relayed, &mut out), Step::Continue);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "event: keepalive\ndata: not json\n\n"
        );
    }

    #[test]
    fn completed_and_incomplete_end_the_stream_with_its_model_and_usage() {
        for kind in ["response.completed", "response.incomplete"] {
            let mut p = Passthrough::default();
            let mut out = BytesMut::new();
            let data = format!(
                r#"{{"type":"{kind}","response":{{"model":"gpt-5.4","usage":{{"input_tokens":3,"output_tokens":2}}}}}}"#
            );
            assert_eq!(feed(&mut p, &data, &mut out), Step::Done, "{kind}");
            let (model, usage) = p.outcome();
            assert_eq!(model, Some("gpt-5.4"));
            assert_eq!(usage.map(Usage::total), Some(5));
            assert!(std::str::from_utf8(&out).unwrap().contains(&data));
        }
    }

    #[test]
    fn a_failure_is_relayed_then_reported() {
        let mut p = Passthrough::default();
        let mut out = BytesMut::new();
        let data = r#"{"type":"response.failed","response":{"error":{"code":"server_is_overloaded","message":"busy"}}}"#;
        let failure = Event::parse(data).ok().and_then(|e| e.failure());
        assert!(failure.is_some());
        assert_eq!(feed(&mut p, data, &mut out), Step::Failed(failure.unwrap()));
        assert!(std::str::from_utf8(&out).unwrap().contains(data));
        assert_eq!(p.outcome(), (None, None));
    }
}
