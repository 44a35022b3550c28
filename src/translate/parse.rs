//! A client's request body → its typed form, naming the field that is wrong:
//! the one body parser of every dialect (`chat`, `anthropic`, `responses`).
//!
//! A valid body, the common case, is parsed without path tracking (which
//! allocates per key); one that fails is parsed again with it, for the
//! message that names the field. A serde message quotes at most about 100
//! bytes of the client's value (`serde_message`). Count limits
//! (`translate::limits`) are each dialect's to check first.

use serde::Deserialize;

use super::limits::Checked;
use super::{bounded, Invalid};

pub(crate) mod raw;

/// Parses `bytes` into `Fast`, a type that keeps parts of the body as their
/// JSON text (`&RawValue`) where `Exact`, the type the route parsed into
/// before, had a tree (`Value`). `checked` is what the limits pass said of
/// the bytes (`limits::check_clean`): keeping a part as text checks its
/// syntax but not what only decoding it finds (a lone surrogate, invalid
/// UTF-8, a number out of range), so a body the pass found unclean is parsed
/// as `Exact` first, for the error that gives; on a clean body both types
/// fail alike, at the same place with the same message. A body that is all
/// UTF-8 is parsed as the text the pass validated (`Checked::text`): its
/// parts are not validated again one by one, and its errors are the same.
pub(crate) fn parse_lazy<'de, Fast, Exact>(
    bytes: &'de [u8],
    checked: Checked<'de>,
) -> Result<Fast, Invalid>
where
    Fast: Deserialize<'de>,
    Exact: Deserialize<'de>,
{
    if !checked.clean {
        parse_body::<Exact>(bytes)?;
    }
    match checked.text {
        Some(text) => parse_with(|| serde_json::Deserializer::from_str(text)),
        None => parse_body(bytes),
    }
}

/// Parses `bytes` into `T`: `invalid_json` for bytes that are not one JSON
/// value (trailing bytes included), `invalid_request_error` naming the path
/// for a value of the wrong shape.
pub(crate) fn parse_body<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, Invalid> {
    parse_with(|| serde_json::Deserializer::from_slice(bytes))
}

/// `parse_body` over the deserializer `new` makes (of bytes or of text;
/// over the same bytes, both fail alike).
fn parse_with<'de, R, T>(new: impl Fn() -> serde_json::Deserializer<R>) -> Result<T, Invalid>
where
    R: serde_json::de::Read<'de>,
    T: Deserialize<'de>,
{
    // As `from_slice`: one value, then nothing but whitespace.
    let de = &mut new();
    if let Ok(parsed) = T::deserialize(&mut *de).and_then(|t| de.end().map(|()| t)) {
        return Ok(parsed);
    }
    let de = &mut new();
    let parsed: T = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return not_json(&inner);
        }
        let param = (path != ".").then_some(path);
        let inner = serde_message(&inner);
        Invalid {
            message: match &param {
                Some(p) => format!("invalid value for '{p}': {inner}"),
                None => format!("invalid request: {inner}"),
            },
            param,
            code: "invalid_request_error",
        }
    })?;
    de.end().map_err(|e| not_json(&e))?;
    Ok(parsed)
}

fn not_json(e: &serde_json::Error) -> Invalid {
    Invalid {
        param: None,
        code: "invalid_json",
        message: format!("the request body is not valid JSON: {e}"),
    }
}

/// A type error's text, with the client value it may quote (serde quotes a
/// wrong string whole) elided past 100 bytes; what serde expected, at the
/// end, and the position are kept.
fn serde_message(e: &serde_json::Error) -> String {
    /// What is kept of a long message's end.
    const TAIL: usize = 60;
    let full = e.to_string();
    let at = format!(" at line {} column {}", e.line(), e.column());
    let text = full.strip_suffix(&at).unwrap_or(&full);
    let head = bounded(text);
    let mut tail = text.len().saturating_sub(TAIL).max(head.len());
    while !text.is_char_boundary(tail) {
        tail += 1;
    }
    if tail - head.len() < 20 {
        return full;
    }
    let at = if text.len() < full.len() {
        at.as_str()
    } else {
        ""
    };
    format!(
        "{head}… ({} bytes elided) …{}{at}",
        tail - head.len(),
        &text[tail..]
    )
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Req {
        #[expect(dead_code, reason = "only its type is checked")]
        model: String,
        #[serde(default)]
        stream: Option<bool>,
    }

    fn err(body: &str) -> Invalid {
        match parse_body::<Req>(body.as_bytes()) {
            Ok(r) => panic!("parsed: {r:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn a_valid_body_parses_and_a_wrong_one_names_its_field() {
        let r: Req = parse_body(br#"{"model":"m","stream":true}"#).unwrap();
        assert_eq!(r.stream, Some(true));
        let e = err(r#"{"model":"m","stream":"yes"}"#);
        assert_eq!(e.param.as_deref(), Some("stream"));
        assert_eq!(e.code, "invalid_request_error");
        assert!(
            e.message.starts_with(
                "invalid value for 'stream': invalid type: string \"yes\", expected a boolean at line 1 column"
            ),
            "{}",
            e.message
        );
        let e = err(r#"{"stream":true}"#);
        assert_eq!((e.param, e.code), (None, "invalid_request_error"));
        assert!(e
            .message
            .starts_with("invalid request: missing field `model`"));
    }

    #[test]
    fn a_body_parsed_as_its_text_gives_what_its_bytes_give() {
        #[derive(Debug, Deserialize)]
        struct Lazy<'a> {
            model: String,
            #[serde(borrow)]
            input: &'a serde_json::value::RawValue,
        }
        #[derive(Debug, Deserialize)]
        #[expect(dead_code, reason = "only its type is checked")]
        struct Exact {
            model: String,
            input: Value,
        }
        let bodies: [&[u8]; 9] = [
            br#"{"model":"m","input":["ok",{"a":[1.5,null]}]}"#,
            br#"{"model":"m","stream":"yes","input":1}"#,
            br#"{"model":7,"input":[]}"#,
            br#"{"input":[]}"#,
            br#"{"model":"m","input":[1,"\uD800"]}"#,
            br#"{"model":"m","input":[1e400]}"#,
            br#"{"model":"m","input":[1,2]} x"#,
            br#"{"model":"m","input":[1,2"#,
            b"{\"model\":\"m\",\"input\":[\"\xff\"]}",
        ];
        for body in bodies {
            let checked =
                crate::translate::limits::check_clean(body, &crate::translate::limits::RESPONSES)
                    .unwrap();
            assert_eq!(checked.text.is_some(), std::str::from_utf8(body).is_ok());
            let parse = |checked| {
                parse_lazy::<Lazy, Exact>(body, checked)
                    .map(|l| (l.model, l.input.get().to_owned()))
            };
            let bytes = Checked {
                text: None,
                ..checked
            };
            assert_eq!(
                parse(checked),
                parse(bytes),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn bytes_that_are_not_one_json_value_are_invalid_json() {
        for body in [r#"{"model":"#, r#"{"model":"m"} x"#, "", "nope"] {
            let e = err(body);
            assert_eq!(
                (e.param.as_deref(), e.code),
                (None, "invalid_json"),
                "{body}"
            );
            assert!(e
                .message
                .starts_with("the request body is not valid JSON: "));
        }
        // A JSON value of any shape is one too.
        let v: Value = parse_body(br#"[1, {"a": null}]"#).unwrap();
        assert_eq!(v, json!([1, {"a": null}]));
    }

    #[test]
    fn a_long_quoted_value_is_elided_keeping_what_was_expected_and_where() {
        let long = "z".repeat(10_000);
        let e = err(&json!({"model": "m", "stream": long}).to_string());
        assert!(e.message.len() < 300, "{}", e.message);
        assert!(e.message.contains("expected a boolean"), "{}", e.message);
        assert!(e.message.contains("bytes elided"), "{}", e.message);
        assert!(e.message.contains(" at line 1 column "), "{}", e.message);
    }
}
