//! How much one request body may hold, checked in one pass over its bytes
//! before it is parsed.
//!
//! A parsed JSON object costs about 600 B whatever its size (serde_json's
//! `Map` is a `BTreeMap`: one node of 11 slots for its first entries), and
//! every value at least 32 B, so a body of tiny values costs up to ~90× its
//! size once parsed. This pass walks the body with serde_json's tokenizer,
//! keeps nothing, and stops at the first limit passed, naming the field: the
//! parse that follows never materializes more than the limits allow. Syntax
//! errors are left to that parse, which reports them as it always has.
//!
//! The counts are generous for real clients: the Codex CLI sends long
//! histories (thousands of items, each a few objects, with tool outputs as
//! strings) and a few dozen tools.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{bounded, Invalid};

/// Messages (Chat) or `input` items (Responses) in one request.
pub const MAX_ITEMS: usize = 10_000;
/// Entries of one counted array inside an item (`content`, `tool_calls`).
pub const MAX_PARTS_PER_ITEM: usize = 10_000;
/// Entries of all the counted arrays of all items together.
pub const MAX_PARTS: usize = 100_000;
/// Tools in one request.
pub const MAX_TOOLS: usize = 1_024;
/// JSON objects anywhere in the body (each ~640 B once parsed): room for
/// every count limit above at once (100 000 part objects and 10 000
/// messages), with small tool schemas.
pub const MAX_OBJECTS: usize = 150_000;
/// JSON values anywhere in the body (each at least 32 B once parsed). With
/// `MAX_OBJECTS`, a parsed body stays near 128 MiB (96 + 32).
pub const MAX_VALUES: usize = 1_000_000;

/// Where a body keeps what is counted.
#[derive(Debug)]
pub struct Shape {
    /// The top-level array of the conversation.
    pub items: &'static str,
    /// What one of its entries is called, in messages.
    pub noun: &'static str,
    /// The arrays of one item whose entries count as its parts.
    pub parts: &'static [&'static str],
}

/// `/v1/chat/completions`: messages, their content parts and tool calls.
pub const CHAT: Shape = Shape {
    items: "messages",
    noun: "message",
    parts: &["content", "tool_calls"],
};

/// `/v1/responses`: input items and their content parts.
pub const RESPONSES: Shape = Shape {
    items: "input",
    noun: "item",
    parts: &["content"],
};

/// `/v1/messages` and its `count_tokens`: messages and their content blocks.
pub const MESSAGES: Shape = Shape {
    items: "messages",
    noun: "message",
    parts: &["content"],
};

/// Refuses a body holding more than the limits allow, naming the field.
pub fn check(bytes: &[u8], shape: &Shape) -> Result<(), Invalid> {
    walk(bytes, shape).map(|_| ())
}

/// `check`, also saying whether the bytes are one valid JSON value as far
/// as the walk went: it reads every string, number and nesting level as a
/// parse into a tree does, so `true` means no such parse of the bytes can
/// fail on their syntax (trailing bytes aside, which it does not look at).
pub fn check_clean(bytes: &[u8], shape: &Shape) -> Result<bool, Invalid> {
    walk(bytes, shape)
}

fn walk(bytes: &[u8], shape: &Shape) -> Result<bool, Invalid> {
    let mut walk = Walk {
        shape,
        values: 0,
        objects: 0,
        parts: 0,
        top: None,
        refused: None,
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    // An error here is either a refusal (kept in `walk`) or a syntax error,
    // which the real parse reports.
    let clean = Node {
        walk: &mut walk,
        at: At::Root,
    }
    .deserialize(&mut de)
    .is_ok();
    walk.refused.map_or(Ok(clean), Err)
}

/// What the value being walked is, for the counts.
#[derive(Clone, Copy)]
enum At {
    Root,
    Items,
    Item(usize),
    Parts { item: usize, field: &'static str },
    Tools,
    Other,
}

struct Walk<'s> {
    shape: &'s Shape,
    values: usize,
    objects: usize,
    parts: usize,
    /// The top-level key being walked, to say where a body budget ran out.
    top: Option<String>,
    refused: Option<Invalid>,
}

impl Walk<'_> {
    fn refuse<E: de::Error>(&mut self, e: Invalid) -> Result<(), E> {
        self.refused = Some(e);
        Err(E::custom("over a request limit"))
    }

    fn value<E: de::Error>(&mut self) -> Result<(), E> {
        self.values += 1;
        if self.values > MAX_VALUES {
            return self.over_budget(MAX_VALUES, "values");
        }
        Ok(())
    }

    fn object<E: de::Error>(&mut self) -> Result<(), E> {
        self.objects += 1;
        if self.objects > MAX_OBJECTS {
            return self.over_budget(MAX_OBJECTS, "objects");
        }
        Ok(())
    }

    fn over_budget<E: de::Error>(&mut self, max: usize, what: &str) -> Result<(), E> {
        let message = format!("the request body holds more than {max} JSON {what}");
        let e = match self.top.take() {
            Some(key) => {
                Invalid::field(key.clone(), format!("{message}; '{key}' passes the limit"))
            }
            None => Invalid {
                param: None,
                code: "invalid_request_error",
                message,
            },
        };
        self.refuse(e)
    }

    /// Counts the `n`th entry (from 1) of the array at `at`.
    fn entry<E: de::Error>(&mut self, at: At, n: usize) -> Result<(), E> {
        let (items, noun) = (self.shape.items, self.shape.noun);
        match at {
            At::Items if n > MAX_ITEMS => self.refuse(Invalid::field(
                items,
                format!("'{items}' holds more than {MAX_ITEMS} {noun}s; one request may hold at most {MAX_ITEMS}"),
            )),
            At::Tools if n > MAX_TOOLS => self.refuse(Invalid::field(
                "tools",
                format!("'tools' holds more than {MAX_TOOLS} tools; one request may hold at most {MAX_TOOLS}"),
            )),
            At::Parts { item, field } => {
                let param = format!("{items}[{item}].{field}");
                if n > MAX_PARTS_PER_ITEM {
                    return self.refuse(Invalid::field(
                        param.clone(),
                        format!("'{param}' holds more than {MAX_PARTS_PER_ITEM} entries; one {noun} may hold at most {MAX_PARTS_PER_ITEM}"),
                    ));
                }
                self.parts += 1;
                if self.parts > MAX_PARTS {
                    let fields = self.shape.parts.join(" and ");
                    return self.refuse(Invalid::field(
                        param.clone(),
                        format!("the {noun}s' {fields} hold more than {MAX_PARTS} entries in all; '{param}' passes the limit"),
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// What the value under `key` of the object at `at` is.
    fn child(&mut self, at: At, key: &str) -> At {
        match at {
            At::Root => {
                self.top = Some(bounded(key).to_string());
                if key == self.shape.items {
                    At::Items
                } else if key == "tools" {
                    At::Tools
                } else {
                    At::Other
                }
            }
            At::Item(item) => match self.shape.parts.iter().find(|p| **p == key) {
                Some(field) => At::Parts { item, field },
                None => At::Other,
            },
            _ => At::Other,
        }
    }
}

/// One value of the body, walked and counted.
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
            let child = match at {
                At::Items => At::Item(n),
                _ => At::Other,
            };
            if seq.next_element_seed(Node { walk, at: child })?.is_none() {
                return Ok(());
            }
            n += 1;
            walk.entry(at, n)?;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Node { walk, at } = self;
        walk.value()?;
        walk.object()?;
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
        Ok(self.walk.child(self.at, key))
    }
}

#[cfg(test)]
mod tests;
