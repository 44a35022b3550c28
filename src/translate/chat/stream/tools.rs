//! Tool calls inside one chat stream.
//!
//! Each `function_call` / `custom_tool_call` item gets a slot the first time
//! it is seen (`output_item.added`, else its `done`); the slot's position is
//! the call's `index` in every `tool_calls` delta, so a client reassembles the
//! call by it. A call's arguments are sent as deltas, or whole at `done` when
//! no delta came.

use bytes::BytesMut;

use super::ChatStream;
use crate::translate::chat::wire::{CustomDelta, Delta, FunctionDelta, ToolCallDelta};
use crate::upstream::events::Item;

#[derive(Debug)]
struct Slot {
    item_id: String,
    call_id: String,
    custom: bool,
    args_sent: bool,
}

/// The calls seen so far, in `index` order.
#[derive(Debug, Default)]
pub(super) struct Tools {
    slots: Vec<Slot>,
}

impl Tools {
    pub(super) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The index of a call already seen: by item id, else by call id.
    fn find(&self, item: &Item) -> Option<usize> {
        let id = item.id.as_deref().filter(|s| !s.is_empty());
        let call = item.call_id.as_deref().filter(|s| !s.is_empty());
        self.slots.iter().position(|t| {
            id.is_some_and(|i| t.item_id == i) || call.is_some_and(|c| t.call_id == c)
        })
    }
}

/// Whether the item is a tool call, and then whether a custom one.
fn custom_call(item: &Item) -> Option<bool> {
    match item.kind.as_str() {
        "function_call" => Some(false),
        "custom_tool_call" => Some(true),
        _ => None,
    }
}

impl ChatStream {
    /// A call seen for the first time: opens its slot and announces it (id,
    /// type, name). Returns the new slot's index; `None` when the item is not
    /// a tool call or its call is already known.
    pub(super) fn tool_started(&mut self, item: &Item, out: &mut BytesMut) -> Option<usize> {
        let custom = custom_call(item)?;
        if self.tools.find(item).is_some() {
            return None;
        }
        let item_id = item.id.clone().unwrap_or_default();
        let call_id = item.call_id.clone().unwrap_or_else(|| item_id.clone());
        let index = self.tools.slots.len();
        self.tools.slots.push(Slot {
            item_id,
            call_id: call_id.clone(),
            custom,
            args_sent: false,
        });
        self.tool_header(
            out,
            index,
            &call_id,
            custom,
            item.name.as_deref().unwrap_or(""),
        );
        Some(index)
    }

    /// An argument (or custom input) delta for the call whose item is `item_id`.
    pub(super) fn tool_input(&mut self, item_id: &str, text: &str, out: &mut BytesMut) {
        let Some((index, slot)) = self
            .tools
            .slots
            .iter_mut()
            .enumerate()
            .find(|(_, t)| t.item_id == item_id)
        else {
            return;
        };
        slot.args_sent = true;
        let custom = slot.custom;
        self.tool_delta(out, index, text, custom);
    }

    /// A finished call: announce it if `added` never came, and send its
    /// arguments whole if no argument deltas did (some streams send none).
    pub(super) fn tool_done(&mut self, item: &Item, out: &mut BytesMut) {
        if custom_call(item).is_none() {
            return;
        }
        let Some(index) = self
            .tools
            .find(item)
            .or_else(|| self.tool_started(item, out))
        else {
            return;
        };
        let Some(slot) = self.tools.slots.get_mut(index) else {
            return;
        };
        if slot.args_sent {
            return;
        }
        slot.args_sent = true;
        let custom = slot.custom;
        let text = if custom {
            item.input.as_deref().unwrap_or("")
        } else {
            item.arguments.as_deref().unwrap_or("")
        };
        if !text.is_empty() {
            self.tool_delta(out, index, text, custom);
        }
    }

    fn tool_header(
        &mut self,
        out: &mut BytesMut,
        index: usize,
        call_id: &str,
        custom: bool,
        name: &str,
    ) {
        self.role(out);
        let delta = ToolCallDelta {
            index,
            id: Some(call_id),
            kind: Some(if custom { "custom" } else { "function" }),
            function: (!custom).then_some(FunctionDelta {
                name: Some(name),
                arguments: "",
            }),
            custom: custom.then_some(CustomDelta {
                name: Some(name),
                input: "",
            }),
        };
        self.choice(
            out,
            Delta {
                tool_calls: Some([delta]),
                ..Delta::default()
            },
            None,
        );
    }

    fn tool_delta(&mut self, out: &mut BytesMut, index: usize, text: &str, custom: bool) {
        let delta = ToolCallDelta {
            index,
            id: None,
            kind: None,
            function: (!custom).then_some(FunctionDelta {
                name: None,
                arguments: text,
            }),
            custom: custom.then_some(CustomDelta {
                name: None,
                input: text,
            }),
        };
        self.delta(
            out,
            Delta {
                tool_calls: Some([delta]),
                ..Delta::default()
            },
        );
    }
}
