//! `GET /v1/models` and `GET /v1/models/{id}` from the cached catalog, with
//! the `[models]` aliases listed beside the models they stand for. A request
//! that carries `anthropic-version` gets Anthropic's list shape
//! (`{"data":[{"type":"model","id","display_name","created_at"}],"has_more",…}`).

use http::{HeaderMap, Response, StatusCode};
use serde_json::{json, Value};

use super::body::{self, Body};
use super::error::{ApiError, Code, Style};
use crate::app::App;
use crate::catalog::Catalog;
use crate::translate::alias::BUILTIN_ALIASES;

/// Anthropic's shape for a client that says it speaks Anthropic's API.
pub(super) fn style(headers: &HeaderMap) -> Style {
    if headers.contains_key("anthropic-version") {
        Style::Anthropic
    } else {
        Style::OpenAi
    }
}

/// The aliases in effect, each with the model it resolves to now:
/// configured ones, then the built-in ones (a built-in name the catalog
/// lists itself is that model, not an alias).
fn aliases(app: &App, catalog: &Catalog) -> Vec<(String, String)> {
    let snap = app.snapshot();
    let models = &snap.config.models;
    let roles = catalog.roles();
    let mut out: Vec<(String, String)> = models
        .aliases
        .iter()
        .map(|(p, t)| (p.clone(), roles.target(t).to_string()))
        .collect();
    if models.builtin_aliases {
        for (p, t) in BUILTIN_ALIASES {
            if !out.iter().any(|(q, _)| q == p) && catalog.info(p).is_none() {
                out.push(((*p).to_string(), roles.target(t).to_string()));
            }
        }
    }
    out
}

/// Whether some account in the pool has a plan the catalog lists for `id`.
fn servable(app: &App, catalog: &Catalog, id: &str) -> bool {
    let Some(info) = catalog.info(id) else {
        return true;
    };
    let snap = app.snapshot();
    let accounts = snap.pool.accounts();
    accounts.is_empty() || accounts.iter().any(|a| info.in_plan(a.plan().as_deref()))
}

fn alias_entry(alias: &str, target: &str, created: i64) -> Value {
    json!({"id": alias, "object": "model", "created": created,
        "owned_by": "codex-pool-alias", "alias_for": target})
}

/// An OpenAI entry in Anthropic's model shape.
fn anthropic_entry(entry: &Value) -> Value {
    let id = entry["id"].as_str().unwrap_or("");
    let created = entry["created"].as_i64().unwrap_or(0).max(0) as u64;
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(created);
    let display = match (entry["display_name"].as_str(), entry["alias_for"].as_str()) {
        (Some(d), _) => d.to_string(),
        (None, Some(target)) => format!("{id} → {target}"),
        (None, None) => id.to_string(),
    };
    json!({"type": "model", "id": id, "display_name": display,
        "created_at": crate::clock::rfc3339_seconds(at)})
}

pub(super) fn list(app: &App, style: Style) -> Response<Body> {
    let catalog = app.models.load();
    let mut v = catalog.list();
    let created = catalog.fetched_at;
    if let Some(data) = v["data"].as_array_mut() {
        data.retain(|m| servable(app, &catalog, m["id"].as_str().unwrap_or("")));
        for (alias, target) in aliases(app, &catalog) {
            data.push(alias_entry(&alias, &target, created));
        }
    }
    if style == Style::Anthropic {
        let data: Vec<Value> = v["data"]
            .as_array()
            .map(|d| d.iter().map(anthropic_entry).collect())
            .unwrap_or_default();
        let first = data.first().map(|m| m["id"].clone());
        let last = data.last().map(|m| m["id"].clone());
        v = json!({"data": data, "has_more": false, "first_id": first, "last_id": last});
    }
    body::json(StatusCode::OK, &v)
}

pub(super) fn get(app: &App, id: &str, style: Style) -> Response<Body> {
    let catalog = app.models.load();
    let found = catalog.get(id).or_else(|| {
        aliases(app, &catalog)
            .into_iter()
            .find(|(a, _)| a == id)
            .map(|(a, t)| alias_entry(&a, &t, catalog.fetched_at))
    });
    match found {
        Some(m) if style == Style::Anthropic => body::json(StatusCode::OK, &anthropic_entry(&m)),
        Some(m) => body::json(StatusCode::OK, &m),
        None => ApiError::new(
            Code::ModelNotFound,
            format!("the model {id:?} does not exist"),
        )
        .with_param("model")
        .into_response_as(style, None),
    }
}
