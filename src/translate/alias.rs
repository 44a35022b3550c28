//! Which backend model a requested name is served by, for every front:
//! `[models.aliases]` (exact names, or globs with `*`), the built-in aliases
//! (the Claude families, retired model names clients still send), effort
//! suffixes (`gpt-5.4-high`, `gpt-5.4(high)`) and `-fast` (the priority
//! service tier).
//!
//! A target may be a catalog role rather than a model: `@default` (the
//! catalog's first listed model) or `@small` (its first listed small model),
//! read at request time, so the built-in names follow the catalog.
//!
//! Resolution happens once, before translation; the model *shown* to the
//! client is still the one upstream reports (`openai-model`, the completed
//! response's `model`), never the alias.

use serde_json::{Map, Value};

use super::Upstream;

/// The built-in aliases, used after the configured ones unless
/// `[models].builtin_aliases = false`, and only for names the catalog does
/// not list: what Claude Code asks for by default (its main model is an opus
/// or sonnet, its small fast one a haiku), and the models retired from
/// ChatGPT sign-in on 2026-08-31 that clients still ask for.
pub const BUILTIN_ALIASES: &[(&str, &str)] = &[
    ("claude-*opus*", DEFAULT_ROLE),
    ("claude-*sonnet*", DEFAULT_ROLE),
    ("claude-*haiku*", SMALL_ROLE),
    ("gpt-5.4", DEFAULT_ROLE),
    ("gpt-5.4-mini", SMALL_ROLE),
];

pub use crate::catalog::{Roles, DEFAULT_ROLE, SMALL_ROLE};

/// The suffix that asks for the priority ("Fast") service tier.
const FAST_SUFFIX: &str = "-fast";

/// Effort suffixes a model name may carry: `-low` … `-xhigh`, or any effort
/// in parentheses.
const DASH_SUFFIXES: &[&str] = &["low", "medium", "high", "xhigh"];

/// A requested model, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The backend model the request is sent as.
    pub model: String,
    /// The effort a suffix (on the request or on the alias target) set.
    pub effort: Option<String>,
    /// The alias pattern that matched, if one did.
    pub alias: Option<String>,
    /// `-fast` asked for the priority service tier (kept only where the
    /// model has one: `server::ctx::resolve_model`).
    pub fast: bool,
}

impl Resolved {
    /// Sends `up` as the resolved model; the suffix's effort applies only
    /// when the request set none itself (explicit parameters win).
    pub fn apply(&self, up: &mut Upstream) {
        up.model.clone_from(&self.model);
        let Some(body) = up.body.as_object_mut() else {
            return;
        };
        body.insert("model".into(), Value::String(self.model.clone()));
        if self.fast {
            body.insert("service_tier".into(), Value::String("priority".into()));
        }
        let Some(effort) = &self.effort else { return };
        let reasoning = body
            .entry("reasoning")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(r) = reasoning.as_object_mut() {
            r.entry("effort")
                .or_insert_with(|| Value::String(effort.clone()));
        }
    }
}

/// Resolves `requested`: configured aliases (exact first, then globs, most
/// specific first) always apply; the built-in ones only to names `known`
/// (the catalog) does not list; then the name itself. An effort suffix is
/// split off unless `known` says the whole name is a real model.
pub fn resolve_model(
    requested: &str,
    aliases: &[(String, String)],
    builtin: bool,
    roles: &Roles,
    known: impl Fn(&str) -> bool,
) -> Resolved {
    if !known(requested) {
        if let Some(base) = requested
            .strip_suffix(FAST_SUFFIX)
            .filter(|b| !b.is_empty())
        {
            let mut r = resolve_model(base, aliases, builtin, roles, known);
            r.fast = true;
            return r;
        }
    }
    let lookup = |name: &str| find_alias(name, aliases, builtin && !known(name));
    // An alias written with its suffix is taken as written.
    if let Some((pattern, target)) = aliases.iter().find(|(p, _)| p == requested) {
        let (model, effort) = split_effort(roles.target(target), &known);
        return Resolved {
            model,
            effort,
            alias: Some(pattern.clone()),
            fast: false,
        };
    }
    let (base, effort) = split_effort(requested, &known);
    if let Some((pattern, target)) = lookup(&base) {
        let (model, target_effort) = split_effort(roles.target(&target), &known);
        return Resolved {
            model,
            effort: effort.or(target_effort),
            alias: Some(pattern),
            fast: false,
        };
    }
    Resolved {
        model: base,
        effort,
        alias: None,
        fast: false,
    }
}

fn find_alias(name: &str, aliases: &[(String, String)], builtin: bool) -> Option<(String, String)> {
    if let Some((p, t)) = aliases.iter().find(|(p, _)| p == name) {
        return Some((p.clone(), t.clone()));
    }
    let glob = aliases
        .iter()
        .filter(|(p, _)| p.contains('*') && glob_match(p, name))
        .max_by_key(|(p, _)| p.len());
    if let Some((p, t)) = glob {
        return Some((p.clone(), t.clone()));
    }
    if !builtin {
        return None;
    }
    BUILTIN_ALIASES
        .iter()
        .find(|(p, _)| glob_match(p, name))
        .map(|(p, t)| ((*p).to_string(), (*t).to_string()))
}

/// `name` without its effort suffix, and that effort. A name `known` to be a
/// real model keeps its suffix.
fn split_effort(name: &str, known: &impl Fn(&str) -> bool) -> (String, Option<String>) {
    if known(name) {
        return (name.to_string(), None);
    }
    if let Some(open) = name.strip_suffix(')').and_then(|n| n.rfind('(')) {
        let effort = &name[open + 1..name.len() - 1];
        let base = name[..open].trim_end();
        if super::REASONING_EFFORTS.contains(&effort) && !base.is_empty() {
            return (base.to_string(), Some(effort.to_string()));
        }
    }
    for e in DASH_SUFFIXES {
        if let Some(base) = name.strip_suffix(e).and_then(|b| b.strip_suffix('-')) {
            if !base.is_empty() {
                return (base.to_string(), Some((*e).to_string()));
            }
        }
    }
    (name.to_string(), None)
}

/// A glob where `*` matches any run of characters (none included).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return false;
    };
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for p in middle {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn none(_: &str) -> bool {
        false
    }

    fn roles() -> Roles {
        Roles {
            default: "gpt-6.2-sol".into(),
            small: "gpt-6.1-mini".into(),
        }
    }

    fn r(name: &str, aliases: &[(&str, &str)]) -> Resolved {
        let a: Vec<(String, String)> = aliases
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect();
        resolve_model(name, &a, true, &roles(), none)
    }

    #[test]
    fn globs_match_prefixes_middles_and_suffixes() {
        assert!(glob_match("claude-*opus*", "claude-opus-4-5"));
        assert!(glob_match("claude-*opus*", "claude-3-opus-20240229"));
        assert!(glob_match("claude-*", "claude-"));
        assert!(glob_match("a*b*c", "abc"));
        assert!(!glob_match("a*b*c", "acb"));
        assert!(!glob_match("claude-*haiku*", "claude-sonnet-4"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exact2"));
        assert!(!glob_match("ab*ba", "aba"));
    }

    #[test]
    fn builtin_claude_families_and_configured_aliases_win_in_order() {
        assert_eq!(r("claude-sonnet-4-5", &[]).model, "gpt-6.2-sol");
        assert_eq!(r("claude-opus-5-5", &[]).model, "gpt-6.2-sol");
        assert_eq!(r("claude-haiku-4-5-20251001", &[]).model, "gpt-6.1-mini");
        // Retired names resolve to the catalog's roles, not to themselves.
        assert_eq!(r("gpt-5.4", &[]).model, "gpt-6.2-sol");
        assert_eq!(r("gpt-5.4-mini", &[]).model, "gpt-6.1-mini");
        let high = r("gpt-5.4-high", &[]);
        assert_eq!(
            (high.model.as_str(), high.effort.as_deref()),
            ("gpt-6.2-sol", Some("high"))
        );
        // A configured alias may name a role too.
        assert_eq!(r("house", &[("house", "@small")]).model, "gpt-6.1-mini");
        assert_eq!(
            r("claude-haiku-4-5", &[]).alias.as_deref(),
            Some("claude-*haiku*")
        );
        let mine = [
            ("claude-*", "gpt-5.2"),
            ("claude-opus-*", "gpt-6.1-codex-xhigh"),
            ("claude-opus-4-1", "gpt-5.3-codex"),
        ];
        assert_eq!(r("claude-opus-4-1", &mine).model, "gpt-5.3-codex");
        let opus = r("claude-opus-4-5", &mine);
        assert_eq!(
            (opus.model.as_str(), opus.effort.as_deref()),
            ("gpt-6.1-codex", Some("xhigh"))
        );
        assert_eq!(r("claude-haiku-4-5", &mine).model, "gpt-5.2");
        let off = resolve_model("claude-haiku-4-5", &[], false, &roles(), none);
        assert_eq!(off.model, "claude-haiku-4-5");
        assert_eq!(off.alias, None);
    }

    #[test]
    fn suffixes_set_the_effort_unless_the_name_is_a_real_model() {
        let x = r("gpt-6.1-codex-high", &[]);
        assert_eq!(
            (x.model.as_str(), x.effort.as_deref(), x.alias),
            ("gpt-6.1-codex", Some("high"), None)
        );
        assert_eq!(
            r("gpt-6.1-codex(xhigh)", &[]).effort.as_deref(),
            Some("xhigh")
        );
        assert_eq!(r("gpt-6.1-codex (low)", &[]).model, "gpt-6.1-codex");
        assert_eq!(r("gpt-6.1-codex(bogus)", &[]).model, "gpt-6.1-codex(bogus)");
        assert_eq!(r("gpt-5.1-codex-max", &[]).effort, None);
        let known = |m: &str| m == "odd-model-high" || m == "claude-sonnet-local";
        let k = resolve_model("odd-model-high", &[], true, &roles(), known);
        assert_eq!((k.model.as_str(), k.effort), ("odd-model-high", None));
        // A model the catalog lists is not taken by a built-in alias, but a
        // configured one still applies.
        let c = resolve_model("claude-sonnet-local", &[], true, &roles(), known);
        assert_eq!((c.model.as_str(), c.alias), ("claude-sonnet-local", None));
        let mine = [("claude-sonnet-local".to_string(), "gpt-5.2".to_string())];
        assert_eq!(
            resolve_model("claude-sonnet-local", &mine, true, &roles(), known).model,
            "gpt-5.2"
        );
        // A suffix on an alias: the request's own effort wins over the target's.
        let a = r(
            "claude-sonnet-4-5-low",
            &[("claude-sonnet-*", "gpt-6.1-codex-high")],
        );
        assert_eq!(
            (a.model.as_str(), a.effort.as_deref()),
            ("gpt-6.1-codex", Some("low"))
        );
    }

    #[test]
    fn fast_asks_for_the_priority_tier_on_what_the_rest_resolves_to() {
        let f = r("claude-sonnet-4-5-fast", &[]);
        assert_eq!((f.model.as_str(), f.fast), ("gpt-6.2-sol", true));
        let g = r("gpt-6.1-codex-high-fast", &[]);
        assert_eq!(
            (g.model.as_str(), g.effort.as_deref(), g.fast),
            ("gpt-6.1-codex", Some("high"), true)
        );
        let known = |m: &str| m == "odd-fast";
        let k = resolve_model("odd-fast", &[], true, &roles(), known);
        assert_eq!((k.model.as_str(), k.fast), ("odd-fast", false));
        let mut up = Upstream {
            input: crate::translate::Input::default(),
            body: json!({"model": "x"}),
            model: "x".into(),
            stream: true,
            session_id: "s".into(),
        };
        f.apply(&mut up);
        assert_eq!(up.body["service_tier"], "priority");
    }

    #[test]
    fn apply_sets_the_model_and_an_effort_only_where_none_was_asked() {
        let mut up = Upstream {
            input: crate::translate::Input::default(),
            body: json!({"model": "claude-opus-4", "reasoning": {"summary": "auto"}}),
            model: "claude-opus-4".into(),
            stream: true,
            session_id: "s".into(),
        };
        let res = r("claude-opus-4-high", &[]);
        res.apply(&mut up);
        assert_eq!(up.model, "gpt-6.2-sol");
        assert_eq!(up.body["model"], "gpt-6.2-sol");
        assert_eq!(
            up.body["reasoning"],
            json!({"summary": "auto", "effort": "high"})
        );
        up.body["reasoning"]["effort"] = json!("low");
        res.apply(&mut up);
        assert_eq!(up.body["reasoning"]["effort"], "low");
    }
}
