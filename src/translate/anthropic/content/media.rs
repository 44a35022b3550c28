//! Images and documents in a user turn: an Anthropic `source` → an
//! `input_image` or `input_file` part (or text), the client's strings
//! copied as their JSON text (a base64 source joined into a data URL
//! without decoding it).

use std::ops::Range;

use crate::translate::input::{put_joined, put_key};
use crate::translate::parse::raw::{self, inside, Fields};
use crate::translate::Invalid;

fn source<'a>(
    b: &Fields<'a>,
    param: &str,
) -> Result<(std::borrow::Cow<'a, str>, Fields<'a>), Invalid> {
    let src = b.get("source").map(Fields::of).unwrap_or_default();
    match src.str("type") {
        Some(t) => Ok((t, src)),
        None => Err(Invalid::field(
            format!("{param}.source.type"),
            format!("'{param}.source.type' must be a string"),
        )),
    }
}

/// The string literal under `key` of a source.
fn str_at<'a>(v: &Fields<'a>, key: &str, param: &str) -> Result<&'a str, Invalid> {
    v.literal(key).ok_or_else(|| {
        Invalid::field(
            format!("{param}.source.{key}"),
            format!("'{param}.source.{key}' must be a string"),
        )
    })
}

/// `"data:{media};base64,{data}"`, the two literals' insides copied.
fn data_url(buf: &mut Vec<u8>, media: &str, data: &str) {
    buf.extend_from_slice(b"\"data:");
    buf.extend_from_slice(inside(media).as_bytes());
    buf.extend_from_slice(b";base64,");
    buf.extend_from_slice(inside(data).as_bytes());
    buf.push(b'"');
}

/// An image: base64 → a data URL, or its URL.
pub(super) fn image(b: &Fields<'_>, param: &str, buf: &mut Vec<u8>) -> Result<(), Invalid> {
    let (t, src) = source(b, param)?;
    match &*t {
        "base64" => {
            let media = str_at(&src, "media_type", param)?;
            let data = str_at(&src, "data", param)?;
            buf.extend_from_slice(br#"{"type":"input_image","image_url":"#);
            data_url(buf, media, data);
        }
        "url" => {
            let url = str_at(&src, "url", param)?;
            buf.extend_from_slice(br#"{"type":"input_image","image_url":"#);
            buf.extend_from_slice(url.as_bytes());
        }
        other => return Err(no_source(param, other, "base64 or url")),
    }
    buf.extend_from_slice(br#","detail":"auto"}"#);
    Ok(())
}

/// A document: PDF (base64 or URL) → `input_file`; plain text → text.
pub(super) fn document(
    b: &Fields<'_>,
    param: &str,
    buf: &mut Vec<u8>,
) -> Result<Option<Range<usize>>, Invalid> {
    let (t, src) = source(b, param)?;
    let title = b.literal("title");
    match &*t {
        "base64" => {
            let media = str_at(&src, "media_type", param)?;
            let data = str_at(&src, "data", param)?;
            buf.extend_from_slice(br#"{"type":"input_file","filename":"#);
            buf.extend_from_slice(title.unwrap_or("\"document.pdf\"").as_bytes());
            put_key(buf, false, "file_data");
            data_url(buf, media, data);
            buf.push(b'}');
            Ok(None)
        }
        "url" => {
            let url = str_at(&src, "url", param)?;
            buf.extend_from_slice(br#"{"type":"input_file","file_url":"#);
            buf.extend_from_slice(url.as_bytes());
            buf.push(b'}');
            Ok(None)
        }
        "text" => {
            let data = str_at(&src, "data", param)?;
            buf.extend_from_slice(br#"{"type":"input_text","text":"#);
            let start = buf.len();
            match title {
                Some(t) => put_joined(buf, "", [t, data], "\\n\\n"),
                None => buf.extend_from_slice(data.as_bytes()),
            }
            let end = buf.len();
            buf.push(b'}');
            Ok(Some(start..end))
        }
        "content" => {
            let texts: Vec<&str> = src
                .get("content")
                .filter(|c| raw::is_array(c))
                .map(raw::elements_fields)
                .unwrap_or_default()
                .iter()
                .filter_map(|c| c.literal("text"))
                .collect();
            buf.extend_from_slice(br#"{"type":"input_text","text":"#);
            let start = buf.len();
            put_joined(buf, "", texts, "");
            let end = buf.len();
            buf.push(b'}');
            Ok(Some(start..end))
        }
        other => Err(no_source(param, other, "base64, url, text or content")),
    }
}

fn no_source(param: &str, got: &str, expected: &str) -> Invalid {
    Invalid::field(
        format!("{param}.source.type"),
        format!("'{param}.source.type' {got:?} is not supported here (the Files API is not available); expected {expected}"),
    )
}
