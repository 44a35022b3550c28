//! A Responses body's top level, parsed in one pass: every field a tree
//! (they are small, and the gateway reads and changes them) but `input`,
//! whose items are kept as the client's JSON text.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::translate::parse::raw::Key;

/// The body: an object (as a tree would hold it: the last of a repeated key
/// wins), or the type of anything else.
pub(super) enum Top<'a> {
    Object {
        input: Option<Items<'a>>,
        rest: Map<String, Value>,
    },
    Other(&'static str),
}

/// `input`: its items' text, or what else it is.
pub(super) enum Items<'a> {
    List(Vec<&'a RawValue>),
    Text(Cow<'a, str>),
    Null,
    Other(&'static str),
}

impl<'de: 'a, 'a> Deserialize<'de> for Top<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Top<'a>, D::Error> {
        d.deserialize_any(TopVisitor(PhantomData))
    }
}

struct TopVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for TopVisitor<'a> {
    type Value = Top<'a>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top<'a>, A::Error> {
        let mut input = None;
        let mut rest = Map::new();
        while let Some(Key(k)) = map.next_key()? {
            if k == "input" {
                input = Some(map.next_value::<Items<'a>>()?);
            } else {
                rest.insert(k.into_owned(), map.next_value::<Value>()?);
            }
        }
        Ok(Top::Object { input, rest })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Top<'a>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Top::Other("an array"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Top<'a>, E> {
        Ok(Top::Other("a boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Top<'a>, E> {
        Ok(Top::Other("a number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Top<'a>, E> {
        Ok(Top::Other("a number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Top<'a>, E> {
        Ok(Top::Other("a number"))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Top<'a>, E> {
        Ok(Top::Other("a string"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Top<'a>, E> {
        Ok(Top::Other("null"))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Items<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Items<'a>, D::Error> {
        d.deserialize_any(ItemsVisitor(PhantomData))
    }
}

struct ItemsVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for ItemsVisitor<'a> {
    type Value = Items<'a>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Items<'a>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element::<&'de RawValue>()? {
            items.push(item);
        }
        Ok(Items::List(items))
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Items<'a>, E> {
        Ok(Items::Text(Cow::Borrowed(s)))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Items<'a>, E> {
        Ok(Items::Text(Cow::Owned(s.to_owned())))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Items<'a>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Items::Other("an object"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Items<'a>, E> {
        Ok(Items::Other("a boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Items<'a>, E> {
        Ok(Items::Other("a number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Items<'a>, E> {
        Ok(Items::Other("a number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Items<'a>, E> {
        Ok(Items::Other("a number"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Items<'a>, E> {
        Ok(Items::Null)
    }
}
