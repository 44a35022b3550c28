//! The models catalog: upstream's `/models` answer, or a built-in list while
//! upstream cannot be reached. Pure data; `background::models_loop` fetches it.
//!
//! Upstream's model objects are also kept as upstream sent them
//! (`Catalog::native`), for the Codex CLI's own `GET /backend-api/codex/models`
//! (`server/native/models.rs`), which needs every field of them.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::version::Version;

/// Served when upstream's list is not available yet.
/// The first is the default role until upstream's list is in. `gpt-5.4`
/// and `gpt-5.4-mini` left ChatGPT sign-in on 2026-08-31; they stay last,
/// so that until upstream's list is in, a client naming them is sent them
/// as named (upstream's answer then says so) rather than rerouted on a guess.
const BUILTIN: &[&str] = &[
    "gpt-6.2-sol",
    "gpt-6.2-astra",
    "gpt-5.3-codex",
    "gpt-5.2-codex",
    "gpt-5.1-codex-max",
    "gpt-5.1-codex-mini",
    "gpt-5.4",
    "gpt-5.4-mini",
];

/// The catalog's default model, as an alias target.
pub const DEFAULT_ROLE: &str = "@default";
/// The catalog's small model, as an alias target.
pub const SMALL_ROLE: &str = "@small";

/// What the roles stand for in the catalog now (`Catalog::roles`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roles {
    pub default: String,
    pub small: String,
}

impl Roles {
    /// `target`, with a role replaced by its model.
    pub fn target<'a>(&'a self, target: &'a str) -> &'a str {
        match target {
            DEFAULT_ROLE => &self.default,
            SMALL_ROLE => &self.small,
            other => other,
        }
    }
}

/// The `client_version` for which the backend's `/models` leaves no model
/// out: `0.0.0` answers the whole catalog (the same ETag as the newest
/// release), any other version hides the models that need more, `0.0.1`
/// hides them all, and no `client_version` at all is a 400.
pub const UNGATED_CLIENT_VERSION: &str = "0.0.0";

#[derive(Debug, Clone, Deserialize)]
pub struct ModelInfo {
    pub slug: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub context_window: Option<u64>,
    #[serde(default)]
    pub visibility: Option<String>,
    #[serde(default)]
    pub default_reasoning_level: Option<String>,
    #[serde(default)]
    pub supported_reasoning_levels: Vec<Value>,
    /// The model's own system prompt (the fallback when upstream accepts no other).
    #[serde(default)]
    pub base_instructions: Option<String>,
    /// The oldest Codex version the backend serves this model to (2026).
    #[serde(default)]
    pub minimal_client_version: Option<String>,
    /// The plans that have this model (`plus`, `pro`, `team`, …); empty when
    /// the catalog does not say (then every plan is assumed to).
    #[serde(default)]
    pub available_in_plans: Vec<String>,
    /// Service tiers (`{"id": "priority", …}` or plain names).
    #[serde(default)]
    pub service_tiers: Vec<Value>,
    /// Takes only `function` and `custom` tools (`translate::lite`).
    #[serde(default)]
    pub use_responses_lite: bool,
}

impl ModelInfo {
    /// Whether an account on `plan` may use this model. An unknown plan, or
    /// a model whose catalog entry lists no plans, is not ruled out.
    pub fn in_plan(&self, plan: Option<&str>) -> bool {
        let Some(plan) = plan else { return true };
        self.available_in_plans.is_empty()
            || self
                .available_in_plans
                .iter()
                .any(|p| p.eq_ignore_ascii_case(plan))
    }

    /// Whether the model has the priority ("Fast") service tier.
    pub fn has_priority_tier(&self) -> bool {
        self.service_tiers.iter().any(|t| {
            t.as_str()
                .or_else(|| t.get("id").and_then(Value::as_str))
                .or_else(|| t.get("name").and_then(Value::as_str))
                .is_some_and(|id| id.eq_ignore_ascii_case("priority"))
        })
    }
}

#[derive(Debug, Clone)]
pub struct Catalog {
    pub models: Vec<ModelInfo>,
    /// `upstream` or `builtin`.
    pub source: &'static str,
    /// Unix seconds of the upstream fetch.
    pub fetched_at: i64,
    /// Upstream's answer as the backend shapes it; `None` for the built-in list.
    pub native: Option<Native>,
}

/// `{"models": [...]}` with upstream's model objects untouched, and its ETag.
#[derive(Debug, Clone)]
pub struct Native {
    pub body: Bytes,
    /// A strong ETag over `body` (quoted).
    pub etag: String,
}

/// How a run of failed models refreshes is reported: at `debug` until it has
/// failed `WARN_AFTER` times in a row, then at `warn` on that failure and each
/// time the run doubles (3, 6, 12, …), so a list that never loads is seen
/// without a warning every cycle. The refresh loop calls `record` once per try.
#[derive(Debug, Default)]
pub struct RefreshStreak {
    failed: u32,
}

impl RefreshStreak {
    pub const WARN_AFTER: u32 = 3;

    /// Logs one refresh (`Ok(number of models)` or the error); returns its
    /// metric outcome, `ok` or `error`.
    pub fn record(&mut self, result: Result<usize, &str>) -> &'static str {
        match result {
            Ok(models) => {
                if self.failed >= Self::WARN_AFTER {
                    tracing::info!(
                        models,
                        after_failures = self.failed,
                        "models list refreshed from upstream again"
                    );
                } else {
                    tracing::debug!(models, "models list refreshed from upstream");
                }
                self.failed = 0;
                "ok"
            }
            Err(error) => {
                self.failed = self.failed.saturating_add(1);
                if self.warns() {
                    tracing::warn!(%error, failures_in_a_row = self.failed,
                        "models list not refreshed; /v1/models serves the last list it has (or the built-in one)");
                } else {
                    tracing::debug!(%error, failures_in_a_row = self.failed, "models list not refreshed");
                }
                "error"
            }
        }
    }

    /// Whether the failure just recorded is logged at `warn`.
    fn warns(&self) -> bool {
        let runs = self.failed / Self::WARN_AFTER;
        self.failed.is_multiple_of(Self::WARN_AFTER) && runs.is_power_of_two()
    }
}

impl Catalog {
    pub fn builtin() -> Catalog {
        Catalog {
            models: BUILTIN
                .iter()
                .map(|s| ModelInfo {
                    slug: (*s).to_string(),
                    display_name: None,
                    context_window: None,
                    visibility: Some("list".into()),
                    default_reasoning_level: None,
                    supported_reasoning_levels: Vec::new(),
                    base_instructions: None,
                    minimal_client_version: None,
                    available_in_plans: Vec::new(),
                    service_tiers: Vec::new(),
                    use_responses_lite: false,
                })
                .collect(),
            source: "builtin",
            fetched_at: 0,
            native: None,
        }
    }

    /// Upstream's `GET /models` answer, fetched at `fetched_at` (unix seconds).
    pub fn from_upstream(body: Value, fetched_at: i64) -> Result<Catalog, String> {
        Catalog::merged(vec![body], fetched_at)
    }

    /// Several `GET /models` answers (one per plan) as one catalog: every
    /// model once, by slug, from the first answer that lists it.
    pub fn merged(bodies: Vec<Value>, fetched_at: i64) -> Result<Catalog, String> {
        let mut raw: Vec<Value> = Vec::new();
        let mut models: Vec<ModelInfo> = Vec::new();
        for mut body in bodies {
            let Some(Value::Array(list)) = body.get_mut("models").map(Value::take) else {
                return Err("unexpected /models answer: no \"models\" list".into());
            };
            for m in list {
                let info: ModelInfo = serde_json::from_value(m.clone())
                    .map_err(|e| format!("unexpected /models answer: {e}"))?;
                if models.iter().any(|k| k.slug == info.slug) {
                    continue;
                }
                models.push(info);
                raw.push(m);
            }
        }
        let body = serde_json::to_vec(&json!({ "models": raw }))
            .map_err(|e| format!("cannot encode the models list: {e}"))?;
        let digest = Sha256::digest(&body);
        let etag = format!("\"{}\"", hex::encode(&digest[..16]));
        Ok(Catalog {
            models,
            source: "upstream",
            fetched_at,
            native: Some(Native {
                body: Bytes::from(body),
                etag,
            }),
        })
    }

    fn listed(&self) -> impl Iterator<Item = &ModelInfo> {
        self.models
            .iter()
            .filter(|m| m.visibility.as_deref() != Some("hide"))
    }

    fn entry(&self, m: &ModelInfo) -> Value {
        let mut v = json!({
            "id": m.slug,
            "object": "model",
            "created": self.fetched_at,
            "owned_by": if self.source == "upstream" { "openai" } else { "codex-pool-builtin" },
        });
        if let Some(cw) = m.context_window {
            v["context_window"] = json!(cw);
        }
        if let Some(d) = &m.display_name {
            v["display_name"] = json!(d);
        }
        if !m.supported_reasoning_levels.is_empty() {
            v["supported_reasoning_levels"] = Value::Array(m.supported_reasoning_levels.clone());
        }
        v
    }

    /// OpenAI's list format.
    pub fn list(&self) -> Value {
        let data: Vec<Value> = self.listed().map(|m| self.entry(m)).collect();
        json!({"object": "list", "data": data})
    }

    /// The model a request that names none of the catalog's models is served
    /// with (the images routes): the first one upstream lists, which is the
    /// one it ranks first.
    pub fn default_model(&self) -> &str {
        self.listed()
            .next()
            .map(|m| m.slug.as_str())
            .unwrap_or(BUILTIN[0])
    }

    pub fn base_instructions(&self, id: &str) -> Option<&str> {
        self.models
            .iter()
            .find(|m| m.slug == id)
            .and_then(|m| m.base_instructions.as_deref())
            .filter(|b| !b.is_empty())
    }

    pub fn get(&self, id: &str) -> Option<Value> {
        self.models
            .iter()
            .find(|m| m.slug == id)
            .map(|m| self.entry(m))
    }

    /// The native list as the backend answers a Codex at `version`: without
    /// the models that need a newer one. `None` when it would leave none out
    /// (serve `native` as it is).
    pub fn native_for(&self, version: Version) -> Option<Native> {
        let native = self.native.as_ref()?;
        let too_new = |m: &ModelInfo| {
            m.minimal_client_version
                .as_deref()
                .and_then(Version::parse)
                .is_some_and(|min| min > version)
        };
        if !self.models.iter().any(too_new) {
            return None;
        }
        let mut all: Value = serde_json::from_slice(&native.body).ok()?;
        let list = all.get_mut("models")?.as_array_mut()?;
        list.retain(|m| {
            m.get("minimal_client_version")
                .and_then(Value::as_str)
                .and_then(Version::parse)
                .is_none_or(|min| min <= version)
        });
        let body = serde_json::to_vec(&all).ok()?;
        let digest = Sha256::digest(&body);
        Some(Native {
            body: Bytes::from(body),
            etag: format!("\"{}\"", hex::encode(&digest[..16])),
        })
    }

    /// What the alias roles stand for now: the first listed model, and the
    /// first listed model named as a small one (`mini`, `nano`, `luna`),
    /// else the default.
    pub fn roles(&self) -> Roles {
        let default = self.default_model().to_string();
        let small = self
            .listed()
            .find(|m| ["mini", "nano", "luna"].iter().any(|w| m.slug.contains(w)))
            .map_or_else(|| default.clone(), |m| m.slug.clone());
        Roles { default, small }
    }

    /// The catalog's entry for `id`.
    pub fn info(&self, id: &str) -> Option<&ModelInfo> {
        self.models.iter().find(|m| m.slug == id)
    }

    /// Whether `id` is a Responses-Lite model (`translate::lite`).
    pub fn uses_responses_lite(&self, id: &str) -> bool {
        self.info(id).is_some_and(|m| m.use_responses_lite)
    }

    /// A bounded metric label: the model if the catalog knows it, else `other`.
    pub fn label<'a>(&self, model: &'a str) -> &'a str {
        if self.models.iter().any(|m| m.slug == model) {
            model
        } else {
            "other"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_answer_lists_visible_models_and_keeps_base_instructions() {
        let body = json!({"models": [
            {"slug": "gpt-5.4", "display_name": "GPT-5.4", "context_window": 272000,
             "visibility": "list", "base_instructions": "You are Codex."},
            {"slug": "internal", "visibility": "hide"}
        ]});
        let catalog = Catalog::from_upstream(body, 1_900_000_000).unwrap();
        let ids: Vec<Value> = catalog.list()["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].clone())
            .collect();
        assert_eq!(ids, [json!("gpt-5.4")]);
        assert_eq!(catalog.base_instructions("gpt-5.4"), Some("You are Codex."));
        assert_eq!(catalog.label("internal"), "internal");
        assert_eq!(catalog.label("gpt-9"), "other");
        assert!(Catalog::from_upstream(json!({"data": []}), 0).is_err());
    }

    #[test]
    fn the_native_list_keeps_upstream_objects_and_merges_plans_by_slug() {
        let plus = json!({"models": [{"slug": "a", "future_field": {"x": 1}}, {"slug": "b"}]});
        let pro = json!({"models": [{"slug": "b", "other": true}, {"slug": "c"}]});
        let c = Catalog::merged(vec![plus, pro], 1).unwrap();
        let native = c.native.clone().unwrap();
        let v: Value = serde_json::from_slice(&native.body).unwrap();
        assert_eq!(
            v,
            json!({"models": [{"slug": "a", "future_field": {"x": 1}}, {"slug": "b"}, {"slug": "c"}]})
        );
        assert_eq!(c.models.len(), 3);
        assert!(native.etag.starts_with('"') && native.etag.len() == 34);
        let again = Catalog::merged(vec![json!({"models": [{"slug": "a"}]})], 2).unwrap();
        assert_ne!(again.native.unwrap().etag, native.etag);
        assert!(Catalog::builtin().native.is_none());
    }

    #[test]
    fn a_failing_refresh_warns_at_three_in_a_row_then_as_the_run_doubles() {
        let mut streak = RefreshStreak::default();
        let mut warned = Vec::new();
        for n in 1..=24 {
            assert_eq!(streak.record(Err("down")), "error");
            if streak.warns() {
                warned.push(n);
            }
        }
        assert_eq!(warned, [3, 6, 12, 24]);
        assert_eq!(streak.record(Ok(4)), "ok");
        assert_eq!(streak.record(Err("down")), "error");
        assert!(!streak.warns(), "a success starts the count again");
    }
}
