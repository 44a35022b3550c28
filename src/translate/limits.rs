//! How much one request body may hold, checked in one pass over its bytes
//! before it is parsed.
//!
//! A parsed JSON object costs about 600 B whatever its size (serde_json's
//! `Map` is a `BTreeMap`: one node of 11 slots for its first entries), and
//! every value at least 32 B, so a body of tiny values costs up to ~90× its
//! size once parsed. This pass (`scan`) reads the body's bytes, keeps
//! nothing, and stops at the first limit passed, naming the field: the parse
//! that follows never materializes more than the limits allow. Syntax errors
//! are left to that parse, which reports them as it always has; the pass
//! only says whether there is one (`Checked::clean`).
//!
//! The counts are generous for real clients: the Codex CLI sends long
//! histories (thousands of items, each a few objects, with tool outputs as
//! strings) and a few dozen tools.

use super::{bounded, Invalid};

mod scan;
#[cfg(test)]
mod walk;

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
    scan::scan(bytes, shape).map(|_| ())
}

/// `check`, also saying whether the bytes are one valid JSON value as far
/// as the pass went, and handing on the body as text when it is all UTF-8.
pub fn check_clean<'a>(bytes: &'a [u8], shape: &Shape) -> Result<Checked<'a>, Invalid> {
    scan::scan(bytes, shape)
}

/// What the pass found of a body within the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked<'a> {
    /// The pass reads every string, number and nesting level as a parse
    /// into a tree does (escapes, surrogate pairs, UTF-8, control bytes, a
    /// number's range, depth 128), so `true` means no such parse of the
    /// bytes can fail on their syntax (trailing bytes aside, which it does
    /// not look at).
    pub clean: bool,
    /// The whole body, when it is valid UTF-8: parsed as text, it is not
    /// validated again part by part (`parse::parse_lazy`).
    pub text: Option<&'a str>,
}

/// What the value being read is, for the counts.
#[derive(Clone, Copy, Debug)]
enum At {
    Root,
    Items,
    Item(usize),
    Parts { item: usize, field: &'static str },
    Tools,
    Other,
}

impl At {
    /// What the entry after `n` entries of an array at `self` is.
    fn element(self, n: usize) -> At {
        match self {
            At::Items => At::Item(n),
            _ => At::Other,
        }
    }
}

/// The counts of one body, and the refusal each limit gives. The pass calls
/// them in the order a parse meets the values: a container when it opens, a
/// scalar once read whole, an array's entry once the entry is read whole.
struct Counts<'s> {
    shape: &'s Shape,
    values: usize,
    objects: usize,
    parts: usize,
    /// The top-level key being read, to say where a body budget ran out.
    top: Option<String>,
}

impl<'s> Counts<'s> {
    fn new(shape: &'s Shape) -> Counts<'s> {
        Counts {
            shape,
            values: 0,
            objects: 0,
            parts: 0,
            top: None,
        }
    }

    fn value(&mut self) -> Result<(), Invalid> {
        self.values += 1;
        if self.values > MAX_VALUES {
            return Err(self.over_budget(MAX_VALUES, "values"));
        }
        Ok(())
    }

    fn object(&mut self) -> Result<(), Invalid> {
        self.objects += 1;
        if self.objects > MAX_OBJECTS {
            return Err(self.over_budget(MAX_OBJECTS, "objects"));
        }
        Ok(())
    }

    fn over_budget(&mut self, max: usize, what: &str) -> Invalid {
        let message = format!("the request body holds more than {max} JSON {what}");
        match self.top.take() {
            Some(key) => {
                Invalid::field(key.clone(), format!("{message}; '{key}' passes the limit"))
            }
            None => Invalid {
                param: None,
                code: "invalid_request_error",
                message,
            },
        }
    }

    /// Counts the `n`th entry (from 1) of the array at `at`.
    fn entry(&mut self, at: At, n: usize) -> Result<(), Invalid> {
        let (items, noun) = (self.shape.items, self.shape.noun);
        match at {
            At::Items if n > MAX_ITEMS => Err(Invalid::field(
                items,
                format!("'{items}' holds more than {MAX_ITEMS} {noun}s; one request may hold at most {MAX_ITEMS}"),
            )),
            At::Tools if n > MAX_TOOLS => Err(Invalid::field(
                "tools",
                format!("'tools' holds more than {MAX_TOOLS} tools; one request may hold at most {MAX_TOOLS}"),
            )),
            At::Parts { item, field } => {
                // Named only when refused: formatting it for every entry
                // cost more than the rest of the count.
                let param = || format!("{items}[{item}].{field}");
                if n > MAX_PARTS_PER_ITEM {
                    let param = param();
                    return Err(Invalid::field(
                        param.clone(),
                        format!("'{param}' holds more than {MAX_PARTS_PER_ITEM} entries; one {noun} may hold at most {MAX_PARTS_PER_ITEM}"),
                    ));
                }
                self.parts += 1;
                if self.parts > MAX_PARTS {
                    let param = param();
                    let fields = self.shape.parts.join(" and ");
                    return Err(Invalid::field(
                        param.clone(),
                        format!("the {noun}s' {fields} hold more than {MAX_PARTS} entries in all; '{param}' passes the limit"),
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Whether `child` needs the key's text: only keys of the root and of
    /// an item say what their value is.
    fn reads_keys(at: At) -> bool {
        matches!(at, At::Root | At::Item(_))
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

#[cfg(test)]
mod agree;
#[cfg(test)]
mod tests;
