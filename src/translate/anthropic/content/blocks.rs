//! A message's `content` as the body's one parse reads it: an array's
//! blocks, each block's values kept as the client's JSON text, read in the
//! same pass as the rest of the body, so that the array is not read again
//! to see its blocks (`content.rs` writes them).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::translate::parse::raw::{AnyFields, Fields};

/// A message's `content`. Any JSON value is one: the translation names the
/// wrong type (`content::convert_messages`), as it did of raw text.
#[derive(Debug)]
pub struct Content<'a>(pub(crate) Held<'a>);

/// How a content is held.
#[derive(Debug)]
pub(crate) enum Held<'a> {
    /// An array: each element's entries (none for an element that is not an
    /// object), as `parse::raw::elements_fields` reads them.
    Blocks(Vec<Fields<'a>>),
    /// A string without escapes: its inside, which is also its literal's.
    Plain(&'a str),
    /// A string literal as the client wrote it (one with escapes, read again
    /// as text: `MessagesRequest::parse`).
    Literal(&'a RawValue),
    /// A string with escapes, before it is read again: its decoded text is
    /// not what goes upstream.
    Escaped,
    /// Any other value: its type's name, for the error.
    Other(&'static str),
}

impl<'de: 'a, 'a> Deserialize<'de> for Content<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Content<'a>, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Held<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Held<'a>, A::Error> {
                let mut blocks = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(AnyFields(f)) = seq.next_element()? {
                    blocks.push(f);
                }
                Ok(Held::Blocks(blocks))
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Held<'a>, E> {
                Ok(Held::Plain(s))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Held<'a>, E> {
                Ok(Held::Escaped)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Held<'a>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Held::Other("an object"))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Held<'a>, E> {
                Ok(Held::Other("a boolean"))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Held<'a>, E> {
                Ok(Held::Other("a number"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Held<'a>, E> {
                Ok(Held::Other("a number"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Held<'a>, E> {
                Ok(Held::Other("a number"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Held<'a>, E> {
                Ok(Held::Other("null"))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData)).map(Content)
    }
}
