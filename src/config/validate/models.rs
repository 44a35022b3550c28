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

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use std::path::Path;

    fn parse(text: &str) -> Result<Config, Vec<String>> {
        Config::parse(text, Path::new("c.toml")).map_err(|e| {
            e.problems
                .into_iter()
                .map(|p| format!("{}: {}", p.key, p.message))
                .collect()
        })
    }

    #[test]
    fn aliases_are_read_in_order_and_bad_ones_are_named() {
        let cfg = parse("[models]\nbuiltin_aliases = false\n[models.aliases]\n\"claude-opus-*\" = \"gpt-5.4-high\"\n\"b\" = \"gpt-5.2\"\n").unwrap();
        assert_eq!(
            cfg.models.aliases,
            [
                ("b".to_string(), "gpt-5.2".to_string()),
                ("claude-opus-*".to_string(), "gpt-5.4-high".to_string())
            ]
        );
        assert!(!cfg.models.builtin_aliases);
        assert!(parse("").unwrap().models.builtin_aliases);
        let problems =
            parse("[models.aliases]\n\"x\" = \"gpt-*\"\n\" \" = \"gpt-5.4\"\n").unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.contains("models.aliases.\"x\"") && p.contains("not a pattern")),
            "{problems:?}"
        );
        let problems = parse("[models]\nalias = {}\n").unwrap_err();
        assert!(problems[0].starts_with("models"), "{problems:?}");
    }
}
