//! The mock's models catalog, shaped like the backend's in 2026-12: a dozen
//! models with `minimal_client_version`, `available_in_plans`, service tiers
//! and the Responses-Lite flag, a few hundred KB; gated by `client_version`
//! as the backend gates it, and the refusals of a too-old version or a
//! model outside an account's plan, in the backend's words.

use serde_json::{json, Value};

use super::answers::{model_info, model_prompt, LEGACY_PROMPT};

/// Every plan, for models all of them have.
const ALL_PLANS: &[&str] = &[
    "free",
    "go",
    "plus",
    "pro",
    "prolite",
    "promax",
    "team",
    "business",
    "edu",
    "enterprise",
];

/// A 2026 catalog entry: `model_info` with its version gate, plans, tiers
/// and Responses-Lite flag.
fn model_2026(
    slug: &str,
    visibility: &str,
    minimal: &str,
    plans: &[&str],
    fast: bool,
    lite: bool,
) -> Value {
    let mut m = model_info(slug, slug, visibility, &format!("You are {slug}."));
    m["minimal_client_version"] = json!(minimal);
    m["available_in_plans"] = json!(plans);
    // The shapes the Codex CLI decodes: a tier has an id, a name and a
    // description, and a fast tier is also listed as a speed tier.
    m["service_tiers"] = if fast {
        json!([{"id": "priority", "name": "Fast", "description": "Lower latency"}])
    } else {
        json!([])
    };
    m["additional_speed_tiers"] = if fast { json!(["fast"]) } else { json!([]) };
    m["max_context_window"] = json!(400000);
    m["auto_compact_token_limit"] = json!(240000);
    m["use_responses_lite"] = json!(lite);
    m["prefer_websockets"] = json!(false);
    m["supports_search_tool"] = json!(!lite);
    m
}

/// The mock's whole catalog, as `client_version=0.0.0` (the backend's
/// ungated answer) shows it: a dozen models, the default first.
pub fn models_answer() -> Value {
    let paid: Vec<&str> = ALL_PLANS
        .iter()
        .copied()
        .filter(|p| *p != "free" && *p != "go")
        .collect();
    let mut first = model_2026("gpt-6.2-sol", "list", "0.166.0", &paid, true, false);
    first["base_instructions"] = json!(model_prompt("gpt-6.2-sol"));
    json!({"models": [
        first,
        model_2026("gpt-6.2-astra", "list", "0.166.0", &["pro", "prolite", "promax", "enterprise"], true, false),
        model_info("gpt-5.4", "GPT-5.4", "list", &model_prompt("gpt-5.4")),
        model_info("gpt-5.4-mini", "GPT-5.4 mini", "list", &model_prompt("gpt-5.4-mini")),
        model_2026("gpt-6.1-codex", "list", "0.150.0", ALL_PLANS, true, false),
        model_2026("gpt-6.1-nano", "list", "0.150.0", ALL_PLANS, false, true),
        model_2026(FUTURE_MODEL, "list", FUTURE_VERSION, ALL_PLANS, false, false),
        // The Codex CLI's helper threads (titles) ask for this one; hidden
        // from pickers, as upstream hides its helpers.
        model_info("gpt-5.6-luna", "GPT-5.6 Luna", "hide", "You are a small helper model."),
        model_2026("gpt-6.2-luna", "hide", "0.160.0", ALL_PLANS, false, true),
        model_2026("gpt-6.0-codex-mini", "hide", "0.140.0", ALL_PLANS, false, false),
        model_info("internal-hidden", "internal", "hide", &model_prompt("internal-hidden")),
        model_info("legacy-prompt-model", "legacy", "list", LEGACY_PROMPT),
    ]})
}

/// The slugs of the catalog's listed (not hidden) models, in its order.
pub fn listed_models() -> Vec<String> {
    models_answer()["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["visibility"] == "list")
        .map(|m| m["slug"].as_str().unwrap().to_string())
        .collect()
}

/// `listed_models` that an account on `plan` may use.
pub fn listed_for_plan(plan: &str) -> Vec<String> {
    models_answer()["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["visibility"] == "list")
        .filter(|m| {
            m["available_in_plans"]
                .as_array()
                .is_none_or(|p| p.iter().any(|x| x == plan))
        })
        .map(|m| m["slug"].as_str().unwrap().to_string())
        .collect()
}

/// A model "added upstream tomorrow": newer than any version built into the gateway.
pub const FUTURE_MODEL: &str = "gpt-7-preview";
pub const FUTURE_VERSION: &str = "0.190.0";

/// `major.minor.patch` as numbers; anything unreadable is `0.0.0`.
pub fn version_triple(v: &str) -> (u64, u64, u64) {
    let mut n = v
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse().unwrap_or(0));
    (
        n.next().unwrap_or(0),
        n.next().unwrap_or(0),
        n.next().unwrap_or(0),
    )
}

/// The catalog as the backend answers `client_version=X`: `0.0.0` is its
/// ungated answer; otherwise models needing more than X are left out.
pub fn models_for(client_version: &str) -> Value {
    let mut all = models_answer();
    if client_version == "0.0.0" {
        return all;
    }
    let have = version_triple(client_version);
    if let Some(list) = all["models"].as_array_mut() {
        list.retain(|m| {
            m["minimal_client_version"]
                .as_str()
                .is_none_or(|min| version_triple(min) <= have)
        });
    }
    all
}

/// The backend's refusal of a model this request may not have: too old a
/// `version`, or a plan (`plan` of the account) the catalog does not list.
pub(super) fn model_refusal(model: &str, version: Option<&str>, plan: &str) -> Option<String> {
    let all = models_answer();
    let info = all["models"]
        .as_array()?
        .iter()
        .find(|m| m["slug"] == model)?;
    if let Some(min) = info["minimal_client_version"].as_str() {
        let have = version.map(version_triple).unwrap_or((0, 0, 0));
        if have < version_triple(min) {
            return Some(format!("The '{model}' model requires a newer version of Codex. Please upgrade to the latest app or CLI and try again."));
        }
    }
    let plans = info["available_in_plans"].as_array()?;
    if !plans.iter().any(|p| p == plan) {
        return Some(format!(
            "The '{model}' model is not supported with this ChatGPT plan."
        ));
    }
    None
}
