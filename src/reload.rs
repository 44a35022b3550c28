//! Live reload: parse and validate the config file, then swap the snapshot in
//! one store. An invalid file changes nothing and every problem is reported.
//! Triggers: SIGHUP, `POST /admin/reload`, and a change of the file on disk.
//! A reload reads files (the config, the auth files of accounts it adds), so
//! it runs on a blocking thread, never on a runtime worker that serves streams.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use crate::app::App;
use crate::config::{Config, ConfigError, Problem};

#[derive(Debug, thiserror::Error)]
pub(crate) enum ReloadError {
    #[error("there is no config file to reload (the gateway runs on built-in defaults)")]
    NoFile,
    #[error("the new config is invalid; still serving the old one:\n{0}")]
    Invalid(ConfigError),
    #[error("the new config changes what cannot change while running: {0}; restart to apply it")]
    NeedsRestart(String),
    #[error("cannot build the upstream client for the new config: {0}")]
    Start(#[from] crate::app::StartError),
    #[error("the reload did not finish: {0}")]
    Aborted(String),
}

impl ReloadError {
    pub(crate) fn problems(&self) -> Vec<serde_json::Value> {
        match self {
            ReloadError::Invalid(e) => e
                .problems
                .iter()
                .map(|Problem { key, message }| serde_json::json!({"key": key, "message": message}))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Keys read once at start (listeners, connection limits, logging, the
/// activity log's size): a reload that changes them applies everything else
/// and names these as waiting for a restart.
fn restart_only(old: &Config, new: &Config) -> Vec<&'static str> {
    let (o, n) = (&old.server, &new.server);
    [
        (
            "server.max_connections",
            o.max_connections != n.max_connections,
        ),
        ("server.max_inflight", o.max_inflight != n.max_inflight),
        (
            "server.worker_threads",
            o.worker_threads != n.worker_threads,
        ),
        (
            "server.max_inflight_body_bytes",
            o.max_inflight_body_bytes != n.max_inflight_body_bytes,
        ),
        (
            "server.header_read_timeout",
            o.header_read_timeout != n.header_read_timeout,
        ),
        (
            "pool.activity_size",
            old.pool.activity_size != new.pool.activity_size,
        ),
        ("metrics.listen", old.metrics_listen != new.metrics_listen),
        ("log.format", old.log.format != new.log.format),
        ("log.level", old.log.level != new.log.level),
    ]
    .into_iter()
    .filter_map(|(key, changed)| changed.then_some(key))
    .collect()
}

/// Reloads from the snapshot's config file, on a blocking thread. `trigger`
/// is for the log. On success, the keys that changed but wait for a restart.
/// Once started, the reload finishes even if this future is dropped.
pub(crate) async fn reload(
    app: &Arc<App>,
    trigger: &'static str,
) -> Result<Vec<&'static str>, ReloadError> {
    let app = Arc::clone(app);
    tokio::task::spawn_blocking(move || reload_blocking(&app, trigger))
        .await
        .unwrap_or_else(|e| Err(ReloadError::Aborted(e.to_string())))
}

/// `reload` on the calling thread, which it blocks on file reads.
fn reload_blocking(app: &App, trigger: &str) -> Result<Vec<&'static str>, ReloadError> {
    let _one_at_a_time = crate::sync::lock(&app.reloading);
    let current = app.snapshot();
    let Some(path) = current.config.path.clone() else {
        return Err(ReloadError::NoFile);
    };
    let result = Config::load(&path)
        .map_err(ReloadError::Invalid)
        .and_then(|new| {
            if new.server.listen != current.config.server.listen {
                return Err(ReloadError::NeedsRestart(format!(
                    "server.listen ({} → {})",
                    current.config.server.listen, new.server.listen
                )));
            }
            let later = restart_only(&current.config, &new);
            app.apply(new)?;
            Ok(later)
        });
    match result {
        Ok(later) => {
            app.metrics.reload(true);
            if later.is_empty() {
                tracing::info!(trigger, file = %path.display(), "config reloaded");
            } else {
                tracing::warn!(trigger, file = %path.display(), restart_required = ?later,
                    "config reloaded; these keys take effect at the next restart");
            }
            Ok(later)
        }
        Err(e) => {
            app.metrics.reload(false);
            tracing::error!(trigger, file = %path.display(), "config not reloaded: {e}");
            Err(e)
        }
    }
}

/// Watches the config file's folder and reloads, debounced, when the file changes.
pub(crate) async fn watch(
    app: Arc<App>,
    path: PathBuf,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(16);
    let name = path.file_name().map(|n| n.to_os_string());
    let handler = move |event: notify::Result<notify::Event>| {
        if let Ok(ev) = event {
            let ours = ev
                .paths
                .iter()
                .any(|p| p.file_name().map(|n| n.to_os_string()) == name);
            if ours && (ev.kind.is_modify() || ev.kind.is_create()) {
                let _ = tx.try_send(());
            }
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the config file; reload with SIGHUP or POST /admin/reload");
            return;
        }
    };
    let dir = crate::config::folder_of(&path);
    if let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive) {
        tracing::warn!(error = %e, "cannot watch the config folder");
        return;
    }
    loop {
        tokio::select! {
            got = rx.recv() => {
                if got.is_none() { return; }
                // Debounce: editors write in several steps.
                tokio::time::sleep(Duration::from_millis(300)).await;
                while rx.try_recv().is_ok() {}
                let _ = reload(&app, "file change").await;
            }
            _ = shutdown.changed() => return,
        }
    }
}
