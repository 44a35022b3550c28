//! `codex-pool codex-config`: the lines that point the Codex CLI, in its own
//! ChatGPT-login mode, at this gateway; `--write` puts them into
//! `$CODEX_HOME/config.toml` (comments kept, a backup saved first).
//!
//! Two layouts (docs/codex-native.md §4):
//! - **solo** (no `[[api_keys]]`): the built-in provider, redirected by
//!   `openai_base_url` and `chatgpt_base_url`. On a plain-HTTP listener the
//!   two must name the gateway by different origins (`127.0.0.1` and
//!   `localhost`), or the CLI's routing discovery sends model traffic to an
//!   https origin the gateway does not serve.
//! - **team** (client keys): a provider block that keeps the ChatGPT login
//!   (`requires_openai_auth`) and adds the client key from an environment
//!   variable as `x-api-key`.

use std::path::{Path, PathBuf};

use toml_edit::{value, DocumentMut, InlineTable, Item, Table};

use crate::config::{self, Config};

/// The provider id of the team layout.
pub(super) const PROVIDER: &str = "codex-pool";

/// What the user asked for.
pub(super) struct Options {
    pub url: Option<String>,
    pub backend_url: Option<String>,
    pub team: bool,
    pub key_env: String,
    pub write: bool,
}

/// The two base URLs of one gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Layout {
    /// `openai_base_url` (or the provider's `base_url`): `…/backend-api/codex`.
    pub model: String,
    /// `chatgpt_base_url`: `…/backend-api/`.
    pub backend: String,
    /// `Some(env var)`: the team provider block that sends the client key.
    pub key_env: Option<String>,
}

pub(super) fn run(config: &Config, opts: &Options) -> Result<(), String> {
    let layout = layout(config, opts)?;
    if let Some(w) = in_clear(&layout) {
        eprintln!("warning: {w}");
    }
    if !opts.write {
        print!("{}", snippet(&layout));
        return Ok(());
    }
    let home = config::codex_home().ok_or("cannot find a home folder: set $CODEX_HOME")?;
    let path = home.join("config.toml");
    let backup = write(&path, &layout)?;
    if let Some(b) = backup {
        println!("saved the old file as {}", b.display());
    }
    println!("wrote {}:", path.display());
    print!("{}", snippet(&layout));
    Ok(())
}

/// The URLs for this gateway, from `--url`/`--backend-url` or its listen address.
pub(super) fn layout(config: &Config, opts: &Options) -> Result<Layout, String> {
    let url = match &opts.url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => {
            let l = config.server.listen;
            let ip = if l.ip().is_unspecified() || l.ip().is_loopback() {
                "127.0.0.1".to_string()
            } else {
                l.ip().to_string()
            };
            format!("http://{ip}:{}", l.port())
        }
    };
    let parsed = url::Url::parse(&url).map_err(|e| format!("--url {url:?}: {e}"))?;
    let backend = match &opts.backend_url {
        Some(b) => b.trim_end_matches('/').to_string(),
        None => second_origin(&parsed).ok_or_else(|| {
            format!(
                "a plain-HTTP gateway at {url} needs a second name for the Codex CLI's backend calls (--backend-url, e.g. its address by IP when --url uses its DNS name); see docs/codex-native.md"
            )
        })?,
    };
    let team = opts.team || !config.api_keys.is_empty();
    Ok(Layout {
        model: format!("{url}/backend-api/codex"),
        backend: format!("{backend}/backend-api/"),
        key_env: team.then(|| opts.key_env.clone()),
    })
}

/// A warning when the Codex CLI would reach the gateway over plain HTTP on a
/// network: in its ChatGPT-login mode it sends the user's own ChatGPT access
/// token (valid for days), account id and client key with every request.
pub(super) fn in_clear(l: &Layout) -> Option<String> {
    let exposed = [&l.model, &l.backend].into_iter().find(|u| {
        url::Url::parse(u).is_ok_and(|u| u.scheme() == "http" && !config::loopback_host(&u))
    })?;
    Some(format!(
        "{exposed} is plain HTTP to another machine: the Codex CLI sends each user's own ChatGPT access token, account id and client key with every request, readable by anyone on the network path. Put TLS in front of the gateway (a reverse proxy) and use https:// URLs (docs/codex-native.md, \"Trust model\")"
    ))
}

/// The other origin of the same gateway: https needs none (the same origin
/// works there), `127.0.0.1` ↔ `localhost` on loopback.
fn second_origin(url: &url::Url) -> Option<String> {
    let base = url.as_str().trim_end_matches('/').to_string();
    if url.scheme() == "https" {
        return Some(base);
    }
    let other = match url.host_str()? {
        "127.0.0.1" => "localhost",
        "localhost" => "127.0.0.1",
        _ => return None,
    };
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    Some(format!("{}://{other}{port}", url.scheme()))
}

/// The lines to add to `config.toml`.
pub(super) fn snippet(l: &Layout) -> String {
    let q = |s: &str| toml_edit::Value::from(s).to_string();
    match &l.key_env {
        None => format!(
            "# codex-pool: the Codex CLI with its own ChatGPT login, through the pool\n\
             openai_base_url = {}\n\
             chatgpt_base_url = {}\n",
            q(&l.model),
            q(&l.backend)
        ),
        Some(env) => format!(
            "# codex-pool: the Codex CLI with its own ChatGPT login, through the pool;\n\
             # the client key comes from ${env} (export {env}=sk-pool-...)\n\
             model_provider = \"{PROVIDER}\"\n\
             chatgpt_base_url = {}\n\
             \n\
             [model_providers.{PROVIDER}]\n\
             name = \"{PROVIDER}\"\n\
             base_url = {}\n\
             wire_api = \"responses\"\n\
             requires_openai_auth = true\n\
             supports_websockets = true\n\
             env_http_headers = {{ \"x-api-key\" = {} }}\n",
            q(&l.backend),
            q(&l.model),
            q(env)
        ),
    }
}

/// Applies `l` to the file at `path` (created if missing); returns the backup's path.
pub(super) fn write(path: &Path, l: &Layout) -> Result<Option<PathBuf>, String> {
    let shown = path.display();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("cannot read {shown}: {e}")),
    };
    let mut doc: DocumentMut = text
        .as_deref()
        .unwrap_or("")
        .parse()
        .map_err(|e| format!("{shown} is not valid TOML: {e}"))?;
    apply(&mut doc, l)?;
    let backup = match &text {
        Some(t) => {
            let b = path.with_file_name(format!("config.toml.bak-{}", crate::clock::unix_now()));
            crate::auth::file::write_atomic(&b, t.as_bytes())
                .map_err(|e| format!("cannot save a backup at {}: {e}", b.display()))?;
            Some(b)
        }
        None => None,
    };
    crate::auth::file::write_atomic(path, doc.to_string().as_bytes())
        .map_err(|e| format!("cannot write {shown}: {e}"))?;
    Ok(backup)
}

/// The layout's keys set in `doc`; everything else stays as it was.
pub(super) fn apply(doc: &mut DocumentMut, l: &Layout) -> Result<(), String> {
    doc["chatgpt_base_url"] = value(l.backend.as_str());
    let Some(env) = &l.key_env else {
        doc["openai_base_url"] = value(l.model.as_str());
        // A team block written earlier would take precedence over the built-in provider.
        if doc.get("model_provider").and_then(Item::as_str) == Some(PROVIDER) {
            doc.remove("model_provider");
        } else if let Some(other) = doc.get("model_provider").and_then(Item::as_str) {
            eprintln!(
                "note: model_provider = {other:?} stays; the pool serves the built-in provider (remove that line to use it)"
            );
        }
        return Ok(());
    };
    doc["model_provider"] = value(PROVIDER);
    let providers = doc
        .entry("model_providers")
        .or_insert_with(|| {
            let mut t = Table::new();
            t.set_implicit(true);
            Item::Table(t)
        })
        .as_table_mut()
        .ok_or("model_providers in the Codex config is not a table")?;
    let mut t = Table::new();
    t.insert("name", value(PROVIDER));
    t.insert("base_url", value(l.model.as_str()));
    t.insert("wire_api", value("responses"));
    t.insert("requires_openai_auth", value(true));
    // A custom provider speaks HTTP unless told the endpoint has the
    // Responses WebSocket (docs/websocket.md).
    t.insert("supports_websockets", value(true));
    let mut headers = InlineTable::new();
    headers.insert("x-api-key", env.as_str().into());
    t.insert("env_http_headers", value(headers));
    providers.insert(PROVIDER, Item::Table(t));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(team: bool) -> Options {
        Options {
            url: None,
            backend_url: None,
            team,
            key_env: "CODEX_POOL_KEY".into(),
            write: false,
        }
    }

    #[test]
    fn a_plain_loopback_gateway_gets_the_split_layout() {
        let cfg = Config::solo(Path::new("/nonexistent"));
        let l = layout(&cfg, &opts(false)).unwrap();
        assert_eq!(l.model, "http://127.0.0.1:8787/backend-api/codex");
        assert_eq!(l.backend, "http://localhost:8787/backend-api/");
        assert_eq!(l.key_env, None);
        let https = Options {
            url: Some("https://pool.example.com/".into()),
            ..opts(true)
        };
        let l = layout(&cfg, &https).unwrap();
        assert_eq!(l.backend, "https://pool.example.com/backend-api/");
        assert_eq!(l.key_env.as_deref(), Some("CODEX_POOL_KEY"));
        let lan = Options {
            url: Some("http://10.0.0.5:8787".into()),
            ..opts(false)
        };
        assert!(layout(&cfg, &lan).unwrap_err().contains("--backend-url"));
    }

    #[test]
    fn plain_http_off_this_machine_is_warned_about() {
        let cfg = Config::solo(Path::new("/nonexistent"));
        let lan = Options {
            url: Some("http://gw.lan:8787".into()),
            backend_url: Some("http://10.0.0.5:8787".into()),
            ..opts(true)
        };
        let w = in_clear(&layout(&cfg, &lan).unwrap()).unwrap();
        assert!(w.contains("http://gw.lan:8787") && w.contains("TLS"), "{w}");
        assert_eq!(in_clear(&layout(&cfg, &opts(true)).unwrap()), None);
        let tls = Options {
            url: Some("https://gw.example.com".into()),
            ..opts(true)
        };
        assert_eq!(in_clear(&layout(&cfg, &tls).unwrap()), None);
    }

    #[test]
    fn writing_keeps_comments_and_switches_between_layouts() {
        let mut doc: DocumentMut =
            "# mine\nmodel = \"gpt-5.4\" # keep\n\n[features]\nplugins = false\n"
                .parse()
                .unwrap();
        let cfg = Config::solo(Path::new("/nonexistent"));
        let team = layout(&cfg, &opts(true)).unwrap();
        apply(&mut doc, &team).unwrap();
        let text = doc.to_string();
        assert!(
            text.starts_with("# mine\n") && text.contains("# keep"),
            "{text}"
        );
        let v: toml::Table = text.parse().unwrap();
        assert_eq!(v["model_provider"].as_str(), Some(PROVIDER));
        let p = &v["model_providers"][PROVIDER];
        assert_eq!(
            p["base_url"].as_str(),
            Some("http://127.0.0.1:8787/backend-api/codex")
        );
        assert_eq!(p["requires_openai_auth"].as_bool(), Some(true));
        assert_eq!(p["supports_websockets"].as_bool(), Some(true));
        assert_eq!(
            p["env_http_headers"]["x-api-key"].as_str(),
            Some("CODEX_POOL_KEY")
        );
        assert_eq!(v["features"]["plugins"].as_bool(), Some(false));
        // The printed snippet is the same TOML.
        let printed: toml::Table = snippet(&team).parse().unwrap();
        assert_eq!(printed["model_providers"], v["model_providers"]);

        let solo = layout(&cfg, &opts(false)).unwrap();
        apply(&mut doc, &solo).unwrap();
        let v: toml::Table = doc.to_string().parse().unwrap();
        assert!(v.get("model_provider").is_none());
        assert_eq!(v["openai_base_url"].as_str(), Some(solo.model.as_str()));
        assert_eq!(v["chatgpt_base_url"].as_str(), Some(solo.backend.as_str()));
    }
}
