//! Tests of the event parse: borrowing, the failure an event reports, the
//! owned copy the hold-back keeps.

use super::*;

#[test]
fn parses_a_delta_without_copying() {
    let data =
        r#"{"type":"response.output_text.delta","item_id":"m1","output_index":0,"delta":"hi"}"#;
    let e = Event::parse(data).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(e.kind(), Kind::OutputTextDelta);
    assert!(matches!(e.delta, Some(Cow::Borrowed("hi"))));
}

#[test]
fn escaped_text_is_unescaped() {
    let data = r#"{"type":"response.output_text.delta","delta":"a\"b\n"}"#;
    let e = Event::parse(data).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(e.delta.as_deref(), Some("a\"b\n"));
}

#[test]
fn completed_carries_usage() {
    let data = r#"{"type":"response.completed","response":{"id":"r1","model":"gpt-5.4","usage":{"input_tokens":10,"input_tokens_details":null,"output_tokens":5,"output_tokens_details":{"reasoning_tokens":2},"total_tokens":15}}}"#;
    let e = Event::parse(data).unwrap_or_else(|e| panic!("{e}"));
    let r = e.response().unwrap_or_default();
    assert_eq!(r.model.as_deref(), Some("gpt-5.4"));
    let u = r.usage.unwrap_or_default();
    assert_eq!(
        (u.input_tokens, u.cached(), u.reasoning(), u.total()),
        (10, 0, 2, 15)
    );
}

#[test]
fn failed_and_error_events_report_a_failure_and_others_do_not() {
    let failure = |data: &str| Event::parse(data).ok().and_then(|e| e.failure());
    assert_eq!(
        failure(
            r#"{"type":"response.failed","response":{"error":{"code":"server_is_overloaded","message":"busy"}}}"#
        ),
        Some(Failure::StreamFailed {
            code: Some("server_is_overloaded".into()),
            message: "busy".into()
        })
    );
    // `error` events carry code and message at top level.
    assert_eq!(
        failure(r#"{"type":"error","code":"rate_limit_exceeded","message":"slow down"}"#)
            .map(|f| f.kind()),
        Some("rate_limited")
    );
    // A failed response without an error object still fails.
    assert_eq!(
        failure(r#"{"type":"response.failed","response":{"id":"r"}}"#),
        Some(Failure::StreamFailed {
            code: None,
            message: "no message".into()
        })
    );
    assert_eq!(
        failure(r#"{"type":"response.completed","response":{}}"#),
        None
    );
    assert_eq!(
        failure(r#"{"type":"response.output_text.delta","delta":"x"}"#),
        None
    );
}

#[test]
fn an_owned_event_keeps_every_field_of_its_parse() {
    let data = r#"{"type":"response.output_item.added","item_id":"i\"1","delta":"d","item":{"type":"function_call","id":"fc_1","name":"ls"},"response":{"model":"m"},"code":"c","message":"x"}"#;
    let borrowed = Event::parse(data).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(borrowed.item, Some(Cow::Borrowed(_))),
        "raw JSON is borrowed"
    );
    assert!(matches!(borrowed.response, Some(Cow::Borrowed(_))));
    let before = format!("{borrowed:?}");
    let owned: Event<'static> = borrowed.into_owned();
    assert_eq!(format!("{owned:?}"), before, "the same fields, owned");
    assert_eq!(owned.kind(), Kind::OutputItemAdded);
    assert_eq!(owned.item_id.as_deref(), Some("i\"1"));
    assert_eq!(owned.item().and_then(|i| i.name).as_deref(), Some("ls"));
    assert_eq!(owned.response().and_then(|r| r.model).as_deref(), Some("m"));
    assert_eq!(
        (owned.code.as_deref(), owned.message.as_deref()),
        (Some("c"), Some("x"))
    );
}

#[test]
fn a_held_event_carries_its_parse_and_relays_as_received() {
    let sse = |event, data| Sse { event, data };
    let data = r#"{"type":"response.created","response":{"id":"r"}}"#;
    let held = Held::new(sse(Some("response.created"), Some(data)));
    assert_eq!(held.event().map(Event::kind), Some(Kind::Created));
    assert_eq!(held.bytes(), data.len());
    let r = held.relayed();
    assert_eq!((r.name, r.data), (Some("response.created"), data));
    assert_eq!(r.event.map(Event::kind), Some(Kind::Created));
    // A payload that is not an event is held as it is, without a parse.
    let held = Held::new(sse(None, Some("not json")));
    assert!(held.event().is_none());
    assert_eq!(
        (held.relayed().name, held.relayed().data),
        (None, "not json")
    );
    let held = Held::new(sse(Some("ping"), None));
    assert_eq!((held.bytes(), held.relayed().data), (0, ""));
}

#[test]
fn unknown_types_are_other_and_do_not_end_failover() {
    let e = Event::parse(r#"{"type":"response.web_search_call.searching"}"#);
    assert_eq!(e.map(|e| e.kind()).ok(), Some(Kind::Other));
    assert!(!Kind::Other.is_output());
    assert!(Kind::OutputItemAdded.is_output());
    assert!(!Kind::Created.is_output());
}
