//! Reading the client's JSON without building it: a value kept as its text
//! (`&RawValue`, borrowed from the body), looked into only as far as a
//! translation needs: its type, a string's text, an object's entries.
//!
//! These mirror what `serde_json::Value`'s accessors answer (`get`, `as_str`,
//! `as_bool`, `is_null`), so a translation reading raw parts takes the same
//! decisions, and gives the same errors, as one reading a parsed tree. The
//! text is valid JSON (the body was parsed once already: `parse_body`).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// A JSON value's type as error messages name it (as `translate::type_name`).
pub(crate) fn type_name(json: &str) -> &'static str {
    match json.as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

pub(crate) fn is_null(v: &RawValue) -> bool {
    v.get() == "null"
}

pub(crate) fn is_object(v: &RawValue) -> bool {
    v.get().starts_with('{')
}

pub(crate) fn is_array(v: &RawValue) -> bool {
    v.get().starts_with('[')
}

pub(crate) fn as_bool(v: &RawValue) -> Option<bool> {
    match v.get() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// The text of a JSON string literal, or `None` for any other JSON.
pub(crate) fn string_of(literal: &str) -> Option<Cow<'_, str>> {
    let inner = literal.strip_prefix('"')?.strip_suffix('"')?;
    if !inner.contains('\\') {
        return Some(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(literal).ok().map(Cow::Owned)
}

/// A string literal's inside, as it is escaped (`"a\nb"` → `a\nb`).
pub(crate) fn inside(literal: &str) -> &str {
    literal
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or("")
}

/// An object's entries, each value kept as its text; `get` answers as
/// `Value::get` does (the last of a repeated key).
#[derive(Debug, Default)]
pub(crate) struct Fields<'a> {
    entries: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'a> Fields<'a> {
    /// The entries of `v` (none when it is not an object).
    pub(crate) fn of(v: &'a RawValue) -> Fields<'a> {
        Fields::parse(v.get())
    }

    /// The entries of the JSON text `json` (none when it is not an object).
    pub(crate) fn parse(json: &'a str) -> Fields<'a> {
        if !json.starts_with('{') {
            return Fields::default();
        }
        serde_json::from_str::<Fields<'a>>(json).unwrap_or_default()
    }

    /// `{"type":"text","text":literal}`, for a content given as one string.
    pub(crate) fn text_block(literal: &'a RawValue) -> Fields<'a> {
        let mut entries = Vec::with_capacity(2);
        // A static JSON text: it parses.
        if let Ok(kind) = serde_json::from_str::<&'static RawValue>("\"text\"") {
            entries.push((Cow::Borrowed("type"), kind));
        }
        entries.push((Cow::Borrowed("text"), literal));
        Fields { entries }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| *v)
    }

    /// The string under `key`, if it is one.
    pub(crate) fn str(&self, key: &str) -> Option<Cow<'a, str>> {
        string_of(self.get(key)?.get())
    }

    /// The string literal under `key`, as the client wrote it.
    pub(crate) fn literal(&self, key: &str) -> Option<&'a str> {
        self.get(key)
            .map(RawValue::get)
            .filter(|v| v.starts_with('"'))
    }

    pub(crate) fn bool(&self, key: &str) -> Option<bool> {
        as_bool(self.get(key)?)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Fields<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Fields<'a>, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Fields<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'a>, A::Error> {
                let mut entries = Vec::new();
                while let Some(Key(k)) = map.next_key()? {
                    entries.push((k, map.next_value::<&'de RawValue>()?));
                }
                Ok(Fields { entries })
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// The entries of each element of the JSON array `array` (none for an
/// element that is not an object), read in one pass over its text.
pub(crate) fn elements_fields(array: &RawValue) -> Vec<Fields<'_>> {
    serde_json::from_str::<Vec<AnyFields<'_>>>(array.get())
        .map(|v| v.into_iter().map(|f| f.0).collect())
        .unwrap_or_default()
}

/// `Fields` of any JSON value: an object's entries, or none (an array's
/// element as `elements_fields` reads it).
pub(crate) struct AnyFields<'a>(pub(crate) Fields<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for AnyFields<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<AnyFields<'a>, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = AnyFields<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnyFields<'a>, A::Error> {
                let mut entries = Vec::new();
                while let Some(Key(k)) = map.next_key()? {
                    entries.push((k, map.next_value::<&'de RawValue>()?));
                }
                Ok(AnyFields(Fields { entries }))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<AnyFields<'a>, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(AnyFields(Fields::default()))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<AnyFields<'a>, E> {
                Ok(AnyFields(Fields::default()))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<AnyFields<'a>, E> {
                Ok(AnyFields(Fields::default()))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<AnyFields<'a>, E> {
                Ok(AnyFields(Fields::default()))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<AnyFields<'a>, E> {
                Ok(AnyFields(Fields::default()))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<AnyFields<'a>, E> {
                Ok(AnyFields(Fields::default()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<AnyFields<'a>, E> {
                Ok(AnyFields(Fields::default()))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// An object key, borrowed from the body when it holds no escape.
pub(crate) struct Key<'a>(pub(crate) Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key<'a>, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Key<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Key<'a>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key<'a>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Key<'a>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> &RawValue {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn answers_as_a_parsed_value_would() {
        let v = raw(r#"{"type": "text", "text": "a\"b", "n": 1, "type": "last", "o": {"x": []}}"#);
        let f = Fields::of(v);
        assert_eq!(f.str("type").as_deref(), Some("last"));
        assert_eq!(f.str("text").as_deref(), Some("a\"b"));
        assert_eq!(f.literal("text"), Some(r#""a\"b""#));
        assert_eq!(f.str("n"), None);
        assert_eq!(f.get("o").map(RawValue::get), Some(r#"{"x": []}"#));
        assert!(Fields::of(raw("[1]")).get("type").is_none());
        assert_eq!(type_name("[1]"), "an array");
        assert_eq!(type_name("-1"), "a number");
        assert_eq!(inside(r#""a\nb""#), r"a\nb");
    }
}
