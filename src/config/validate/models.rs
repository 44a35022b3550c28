//! `[models]`: the alias table and the built-in Claude family defaults.
//!
//! An alias is an exact model name or a glob (`*` matches any run of
//! characters); its target is a backend model name, optionally with an
//! effort suffix (`gpt-5.4-high`). Targets are not resolved again (no
//! chains), so a target may not contain `*`.

use super::super::raw::RawModels;
use super::super::ModelsConfig;
use super::Validator;

/// The longest alias or target (the same bound as a request's `model`).
const MAX_NAME_BYTES: usize = 256;

impl Validator {
    pub(super) fn models(&mut self, raw: RawModels) -> ModelsConfig {
        let mut aliases = Vec::new();
        for (alias, target) in raw.aliases.unwrap_or_default() {
            let key = format!("models.aliases.{alias:?}");
            let alias_ok = !alias.trim().is_empty()
                && alias.len() <= MAX_NAME_BYTES
                && !alias.chars().any(char::is_control);
            if !alias_ok {
                self.problem(
                    &key,
                    format!("an alias must be 1-{MAX_NAME_BYTES} bytes without control characters"),
                );
                continue;
            }
            if target.trim().is_empty()
                || target.len() > MAX_NAME_BYTES
                || target.chars().any(char::is_control)
            {
                self.problem(&key, format!("the target must be a model name of 1-{MAX_NAME_BYTES} bytes without control characters"));
                continue;
            }
            if target.contains('*') {
                self.problem(
                    &key,
                    format!("the target {target:?} must be a model name, not a pattern"),
                );
                continue;
            }
            aliases.push((alias, target));
        }
        ModelsConfig {
            aliases,
            builtin_aliases: raw.builtin_aliases.unwrap_or(true),
        }
    }
}
