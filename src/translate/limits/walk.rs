//! The pass as it was first written, kept for the tests: serde_json's
//! tokenizer walks the body into nothing, counting as it goes. A parse into a
//! tree reads the bytes exactly this way, so its verdict (refused, clean,
//! unclean) is what `scan` must give for every input (`agree.rs`).

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{At, Counts, Invalid, Shape};

/// The walk's verdict: a refusal, or whether the bytes parsed cleanly.
pub(super) fn walk(bytes: &[u8], shape: &Shape) -> Result<bool, Invalid> {
    let mut walk = Walk {
        counts: Counts::new(shape),
        refused: None,
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    // An error here is either a refusal (kept in `walk`) or a syntax error.
    let clean = Node {
        walk: &mut walk,
        at: At::Root,
    }
    .deserialize(&mut de)
    .is_ok();
    walk.refused.map_or(Ok(clean), Err)
}

struct Walk<'s> {
    counts: Counts<'s>,
    refused: Option<Invalid>,
}

impl Walk<'_> {
    fn keep<E: de::Error>(&mut self, r: Result<(), Invalid>) -> Result<(), E> {
        r.map_err(|e| {
            self.refused = Some(e);
            E::custom("over a request limit")
        })
    }

    fn value<E: de::Error>(&mut self) -> Result<(), E> {
        let r = self.counts.value();
        self.keep(r)
    }
}

struct Node<'w, 's> {
    walk: &'w mut Walk<'s>,
    at: At,
}

impl<'de> DeserializeSeed<'de> for Node<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.walk.value()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.walk.value()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.walk.value()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.walk.value()
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.walk.value()
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.walk.value()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Node { walk, at } = self;
        walk.value()?;
        let mut n = 0;
        loop {
            let child = at.element(n);
            if seq.next_element_seed(Node { walk, at: child })?.is_none() {
                return Ok(());
            }
            n += 1;
            let r = walk.counts.entry(at, n);
            walk.keep(r)?;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Node { walk, at } = self;
        walk.value()?;
        let r = walk.counts.object();
        walk.keep(r)?;
        while let Some(child) = map.next_key_seed(Key { walk, at })? {
            map.next_value_seed(Node { walk, at: child })?;
        }
        Ok(())
    }
}

/// An object's key: what its value is, without keeping the key.
struct Key<'w, 's> {
    walk: &'w mut Walk<'s>,
    at: At,
}

impl<'de> DeserializeSeed<'de> for Key<'_, '_> {
    type Value = At;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<At, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_, '_> {
    type Value = At;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<At, E> {
        Ok(self.walk.counts.child(self.at, key))
    }
}
