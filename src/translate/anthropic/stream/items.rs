//! Output items opening and closing their content blocks: a function call
//! announced as a `tool_use` block, and each item's `done` (the signature of
//! a reasoning item, text or arguments that came only whole).

use bytes::BytesMut;

use super::wire::{Delta, Opened};
use super::{Block, MessagesStream};
use crate::translate::collect::OutputItem;

impl MessagesStream {
    pub(super) fn tool_open(&mut self, out: &mut BytesMut, item: &OutputItem<'_>) {
        self.tool_used = true;
        let block = Block::Tool {
            item_id: item.id.as_deref().unwrap_or_default().to_owned(),
            args_sent: false,
        };
        let id = item.call_id.as_deref().or(item.id.as_deref()).unwrap_or("");
        let name = item.name.as_deref().unwrap_or("");
        self.open(out, block, Opened::ToolUse { id, name });
    }

    pub(super) fn item_done(&mut self, out: &mut BytesMut, item: &OutputItem<'_>) {
        let same = |open_id: &str| item.id.as_deref().is_none_or(|i| i == open_id);
        match item.kind.as_ref() {
            "reasoning" => {
                let signature = item.encrypted_content.as_deref().unwrap_or("");
                let summary: Vec<&str> = item
                    .summary
                    .iter()
                    .filter_map(|s| s.text.as_deref())
                    .collect();
                let index = match &self.open {
                    Some((i, Block::Thinking { item_id, text_sent })) if same(item_id) => {
                        let (i, sent) = (*i, *text_sent);
                        if !sent && !summary.is_empty() && !self.shape.omit_thinking {
                            self.delta(
                                out,
                                i,
                                Delta::Thinking {
                                    thinking: &summary.join("\n\n"),
                                },
                            );
                        }
                        i
                    }
                    _ if signature.is_empty() && summary.is_empty() => return,
                    _ => {
                        let block = Block::Thinking {
                            item_id: item.id.as_deref().unwrap_or_default().to_owned(),
                            text_sent: true,
                        };
                        let i = self.open(out, block, Opened::Thinking);
                        if !summary.is_empty() && !self.shape.omit_thinking {
                            self.delta(
                                out,
                                i,
                                Delta::Thinking {
                                    thinking: &summary.join("\n\n"),
                                },
                            );
                        }
                        i
                    }
                };
                if !signature.is_empty() {
                    self.delta(out, index, Delta::Signature { signature });
                }
                self.close(out);
            }
            "message" => {
                if !self.text_streamed {
                    for p in &item.content {
                        self.refused |= p.kind == "refusal";
                        if let Some(t) = p
                            .text
                            .as_deref()
                            .or(p.refusal.as_deref())
                            .filter(|t| !t.is_empty())
                        {
                            self.text(out, t);
                        }
                    }
                }
                self.text_streamed = false;
                if matches!(self.open, Some((_, Block::Text))) {
                    self.close(out);
                }
            }
            "function_call" => {
                let open_here =
                    matches!(&self.open, Some((_, Block::Tool { item_id, .. })) if same(item_id));
                if !open_here {
                    self.tool_open(out, item);
                }
                if let Some((
                    index,
                    Block::Tool {
                        args_sent: false, ..
                    },
                )) = &self.open
                {
                    let index = *index;
                    let args = item.arguments.as_deref().unwrap_or("");
                    if !args.is_empty() {
                        self.delta(out, index, Delta::InputJson { partial_json: args });
                    }
                }
                self.close(out);
            }
            _ => {}
        }
    }
}
